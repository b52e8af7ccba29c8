#include "image/convert.h"

#include <gtest/gtest.h>

#include <cstring>
#include <mutex>

#include <unistd.h>

namespace ferry::image {
namespace {

// An in-memory disk whose map says "data" only where bytes were set.
class MemoryReader : public ImageReader {
 public:
  explicit MemoryReader(uint64_t size) : bytes_(size, 0), data_(size / 4096, false) {}
  void Fill(uint64_t offset, uint64_t length, uint8_t value) {
    std::memset(&bytes_[offset], value, length);
    for (uint64_t b = offset / 4096; b <= (offset + length - 1) / 4096; ++b) data_[b] = true;
  }
  uint64_t virtual_size() const override { return bytes_.size(); }
  Result<ImageDetails> Details() const override { return ImageDetails{}; }
  Status Read(uint64_t offset, std::span<uint8_t> out) override {
    if (fail_at_ && offset >= fail_at_) return Error(ErrorCode::kUnavailable, "interrupted");
    std::memcpy(out.data(), &bytes_[offset], out.size());
    // Slow enough that checkpoints fall between reads.
    if (slow_) usleep(2000);
    return OkStatus();
  }
  uint64_t fail_at_ = 0;
  bool slow_ = false;
  Result<Extent> Map(uint64_t offset, uint64_t max_length) override {
    Extent e;
    e.start = offset;
    bool data = data_[offset / 4096];
    uint64_t end = offset;
    while (end < offset + max_length && end < bytes_.size() && data_[end / 4096] == data) {
      end = (end / 4096 + 1) * 4096;
    }
    e.length = std::min(end, offset + max_length) - offset;
    e.data = data;
    e.zero = !data;
    return e;
  }
  std::vector<uint8_t> bytes_;
  std::vector<bool> data_;
};

class MemoryWriter : public ImageWriter {
 public:
  MemoryWriter(uint64_t size, uint64_t granularity, bool ordered)
      : bytes_(size, 0), granularity_(granularity), ordered_(ordered) {}
  uint64_t granularity() const override { return granularity_; }
  bool ordered() const override { return ordered_; }
  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mu_);
    if (offset % granularity_) return Error(ErrorCode::kInternal, "unaligned write");
    if (ordered_ && offset < last_) return Error(ErrorCode::kInternal, "out of order");
    last_ = offset;
    std::memcpy(&bytes_[offset], data.data(), data.size());
    writes_ += data.size();
    return OkStatus();
  }
  Status WriteZeroes(uint64_t, uint64_t) override { return OkStatus(); }
  Status Finish() override {
    finished_ = true;
    return OkStatus();
  }
  std::mutex mu_;
  std::vector<uint8_t> bytes_;
  uint64_t granularity_;
  bool ordered_;
  uint64_t last_ = 0;
  uint64_t writes_ = 0;
  bool finished_ = false;
};

TEST(IsZero, FindsAnyNonZeroByte) {
  std::vector<uint8_t> v(10000, 0);
  EXPECT_TRUE(IsZero(v.data(), v.size()));
  for (size_t i : {0, 7, 15, 16, 17, 9999}) {
    v[i] = 1;
    EXPECT_FALSE(IsZero(v.data(), v.size())) << i;
    v[i] = 0;
  }
  EXPECT_TRUE(IsZero(v.data(), 0));
}

TEST(CopyImage, CopiesDataSkipsZerosInAnyOrder) {
  for (bool ordered : {false, true}) {
    MemoryReader src(8 << 20);
    src.Fill(4096, 10, 0xaa);
    src.Fill(3 << 20, 1 << 20, 0xbb);
    src.Fill((5 << 20) + 65536, 65536, 0);  // data in the map, zero in content
    src.Fill((8 << 20) - 512, 512, 0xcc);
    MemoryWriter dst(8 << 20, 65536, ordered);
    CopyOptions o;
    o.workers = 4;
    o.chunk_size = 256 << 10;
    auto stats = CopyImage(src, dst, o);
    ASSERT_TRUE(stats.ok()) << stats.error().message();
    EXPECT_TRUE(dst.finished_);
    EXPECT_EQ(dst.bytes_, src.bytes_);
    // Only the 64 KiB units holding non-zero bytes were written.
    EXPECT_EQ(dst.writes_, 65536u + (1u << 20) + 65536u);
  }
}

TEST(CopyImage, ResumesFromTheLastCheckpoint) {
  for (bool ordered : {false, true}) {
    MemoryReader src(16 << 20);
    for (uint64_t mb = 0; mb < 16; mb += 2) src.Fill(mb << 20, 1 << 20, uint8_t(0x10 + mb));
    src.slow_ = true;
    src.fail_at_ = 12 << 20;  // the first run dies three quarters of the way
    MemoryWriter dst(16 << 20, 65536, ordered);
    CopyOptions o;
    o.workers = 3;
    o.chunk_size = 64 << 10;
    PlanInfo plan;
    uint64_t frontier = 0;
    o.resume.interval_seconds = 0.01;
    o.resume.begin = [&](const PlanInfo& p) -> Result<uint64_t> {
      plan = p;
      return frontier;
    };
    uint64_t saved_last = 0;  // the writer's state at the checkpoint
    o.resume.checkpoint = [&](uint64_t f) -> Status {
      EXPECT_GE(f, frontier);
      frontier = f;
      saved_last = dst.last_;
      return OkStatus();
    };
    ASSERT_FALSE(CopyImage(src, dst, o).ok());
    EXPECT_FALSE(dst.finished_);
    ASSERT_GT(frontier, 0u);
    ASSERT_LT(frontier, plan.tasks);
    PlanInfo first_plan = plan;
    src.fail_at_ = 0;
    src.slow_ = false;
    dst.last_ = saved_last;
    auto stats = CopyImage(src, dst, o);
    ASSERT_TRUE(stats.ok()) << stats.error().message();
    EXPECT_EQ(plan.tasks, first_plan.tasks);
    EXPECT_EQ(plan.digest, first_plan.digest);
    EXPECT_TRUE(dst.finished_);
    EXPECT_EQ(dst.bytes_, src.bytes_);
    EXPECT_GT(stats->resumed_at, 0u);
    EXPECT_EQ(stats->bytes_read + stats->resumed_at, 8u << 20)
        << "the second run reads only what the first did not finish";
  }
}

}  // namespace
}  // namespace ferry::image
