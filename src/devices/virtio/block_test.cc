#include "devices/virtio/block.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "devices/virtio/test_driver.h"

namespace ferry {
namespace {

using testing::Buffer;
using testing::TestDriver;
using namespace virtio_blk;

struct Header {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char path[] = "/tmp/ferry-blk-test-XXXXXX";
    int fd = ::mkstemp(path);
    ASSERT_GE(fd, 0);
    path_ = path;
    ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
    std::vector<uint8_t> pattern(4096);
    for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 7);
    ASSERT_EQ(::pwrite(fd, pattern.data(), pattern.size(), 0), 4096);
    ::close(fd);
    Result<GuestMemory> m = GuestMemory::Create(16 << 20);
    ASSERT_TRUE(m.ok());
    memory_.emplace(std::move(*m));
    driver_.emplace(*memory_, 64);
    queue_.state() = driver_->Layout();
  }
  void TearDown() override {
    block_.reset();
    ::unlink(path_.c_str());
  }

  void Open(bool read_only, std::string serial = "") {
    Result<RawDisk> disk = RawDisk::Open({path_, read_only, serial});
    ASSERT_TRUE(disk.ok()) << disk.error().message();
    block_.emplace(std::move(*disk));
  }

  // Sends one request; returns the status byte and the used length.
  std::pair<uint8_t, uint32_t> Send(Header h, std::vector<Buffer>& data, bool data_writable,
                                    const void* payload = nullptr) {
    std::vector<Buffer> b = {{sizeof(Header), false}};
    for (Buffer d : data) {
      d.writable = data_writable;
      b.push_back(d);
    }
    b.push_back({1, true});
    uint16_t head = driver_->AddChain(b);
    driver_->Fill(b[0].gpa, &h, sizeof h);
    if (payload) driver_->Fill(b[1].gpa, payload, b[1].len);
    for (size_t i = 0; i < data.size(); ++i) data[i].gpa = b[i + 1].gpa;
    driver_->Publish(head);
    auto chain = queue_.Pop(*memory_);
    EXPECT_TRUE(chain.ok() && chain->has_value());
    Result<uint32_t> used = block_->HandleRequest(0, **chain, *memory_);
    EXPECT_TRUE(used.ok());
    return {driver_->Read(b.back().gpa, 1)[0], used.ok() ? *used : 0};
  }

  std::vector<uint8_t> FileBytes(off_t at, size_t len) {
    std::vector<uint8_t> out(len);
    int fd = ::open(path_.c_str(), O_RDONLY);
    EXPECT_EQ(::pread(fd, out.data(), len, at), static_cast<ssize_t>(len));
    ::close(fd);
    return out;
  }

  std::string path_;
  std::optional<GuestMemory> memory_;
  std::optional<TestDriver> driver_;
  Virtqueue queue_{64};
  std::optional<VirtioBlock> block_;
};

TEST_F(BlockTest, ReadsIntoGuestBuffersAndMarksThemDirty) {
  Open(false);
  memory_->vmm_dirty_log().Start();
  std::vector<Buffer> data = {{512, true}, {1024, true}};
  auto [status, used] = Send({kTypeIn, 0, 1}, data, true);
  EXPECT_EQ(status, kStatusOk);
  EXPECT_EQ(used, 1537u);
  std::vector<uint8_t> expect = FileBytes(512, 1536);
  std::vector<uint8_t> got = driver_->Read(data[0].gpa, 512);
  std::vector<uint8_t> more = driver_->Read(data[1].gpa, 1024);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(got, expect);
  std::vector<uint64_t> words(64);
  memory_->vmm_dirty_log().TakeInto(words.data(), words.size());
  uint64_t page = data[1].gpa / 4096;
  EXPECT_TRUE(words[page / 64] >> (page % 64) & 1);
  memory_->vmm_dirty_log().Stop();
}

TEST_F(BlockTest, WritesFlushesAndRefusesOutOfRange) {
  Open(false);
  std::vector<uint8_t> payload(512, 0xab);
  std::vector<Buffer> data = {{512, false}};
  EXPECT_EQ(Send({kTypeOut, 0, 10}, data, false, payload.data()).first, kStatusOk);
  EXPECT_EQ(FileBytes(10 * 512, 512), payload);
  std::vector<Buffer> none;
  EXPECT_EQ(Send({kTypeFlush, 0, 0}, none, false).first, kStatusOk);
  std::vector<Buffer> past = {{512, false}};
  EXPECT_EQ(Send({kTypeOut, 0, 2048}, past, false, payload.data()).first, kStatusIoErr);
  std::vector<Buffer> odd = {{100, true}};
  EXPECT_EQ(Send({kTypeIn, 0, 0}, odd, true).first, kStatusIoErr);
  std::vector<Buffer> unknown;
  EXPECT_EQ(Send({99, 0, 0}, unknown, false).first, kStatusUnsupported);
}

TEST_F(BlockTest, DiscardAndWriteZeroes) {
  Open(false);
  struct Segment {
    uint64_t sector;
    uint32_t num;
    uint32_t flags;
  };
  Segment zero = {0, 8, 0};
  std::vector<Buffer> seg = {{16, false}};
  EXPECT_EQ(Send({kTypeWriteZeroes, 0, 0}, seg, false, &zero).first, kStatusOk);
  EXPECT_EQ(FileBytes(0, 4096), std::vector<uint8_t>(4096, 0));
  Segment discard = {16, 8, 0};
  EXPECT_EQ(Send({kTypeDiscard, 0, 0}, seg, false, &discard).first, kStatusOk);
  Segment bad_flags = {16, 8, 1};  // unmap is not for discard
  EXPECT_EQ(Send({kTypeDiscard, 0, 0}, seg, false, &bad_flags).first, kStatusUnsupported);
  Segment past = {2047, 8, 0};
  EXPECT_EQ(Send({kTypeWriteZeroes, 0, 0}, seg, false, &past).first, kStatusIoErr);
}

TEST_F(BlockTest, GetIdIsStableOrGiven) {
  Open(false);
  std::vector<Buffer> id = {{20, true}};
  EXPECT_EQ(Send({kTypeGetId, 0, 0}, id, true).first, kStatusOk);
  std::vector<uint8_t> first = driver_->Read(id[0].gpa, 20);
  EXPECT_EQ(std::string(first.begin(), first.begin() + 6), "ferry-");
  block_.reset();
  Open(true, "my-disk");
  EXPECT_EQ(Send({kTypeGetId, 0, 0}, id, true).first, kStatusOk);
  std::vector<uint8_t> given = driver_->Read(id[0].gpa, 8);
  EXPECT_EQ(std::string(given.begin(), given.begin() + 7), "my-disk");
  EXPECT_EQ(given[7], 0);
}

TEST_F(BlockTest, ReadOnlyRefusesChanges) {
  Open(true);
  EXPECT_TRUE(block_->device_features() & virtio::Bit(kFeatureRo));
  std::vector<uint8_t> payload(512, 1);
  std::vector<Buffer> data = {{512, false}};
  EXPECT_EQ(Send({kTypeOut, 0, 0}, data, false, payload.data()).first, kStatusIoErr);
  uint64_t seg[2] = {0, 8};
  std::vector<Buffer> s = {{16, false}};
  EXPECT_EQ(Send({kTypeDiscard, 0, 0}, s, false, seg).first, kStatusIoErr);
  EXPECT_EQ(Send({kTypeWriteZeroes, 0, 0}, s, false, seg).first, kStatusIoErr);
  std::vector<Buffer> in = {{512, true}};
  EXPECT_EQ(Send({kTypeIn, 0, 0}, in, true).first, kStatusOk);
}

TEST_F(BlockTest, LockKeepsASecondWriterOut) {
  Open(false);
  Result<RawDisk> again = RawDisk::Open({path_, false, ""});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message().find("is another VM using it?"), std::string::npos);
  EXPECT_FALSE(RawDisk::Open({path_, true, ""}).ok());  // no reader beside a writer
}

TEST_F(BlockTest, ReadersShareAnImage) {
  Open(true);
  EXPECT_TRUE(RawDisk::Open({path_, true, ""}).ok());
  EXPECT_FALSE(RawDisk::Open({path_, false, ""}).ok());
}

TEST_F(BlockTest, BadImagesAreRefused) {
  EXPECT_FALSE(RawDisk::Open({"/nonexistent/disk.img", false, ""}).ok());
  EXPECT_FALSE(RawDisk::Open({"/tmp", false, ""}).ok());
  ASSERT_EQ(::truncate(path_.c_str(), 1000), 0);
  Result<RawDisk> odd = RawDisk::Open({path_, false, ""});
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().message().find("multiple of 512"), std::string::npos);
  ASSERT_EQ(::truncate(path_.c_str(), 0), 0);
  EXPECT_FALSE(RawDisk::Open({path_, false, ""}).ok());
}

TEST_F(BlockTest, ChainWithoutStatusByteIsMalformed) {
  Open(false);
  std::vector<Buffer> b = {{16, false}};
  driver_->Publish(driver_->AddChain(b));
  auto chain = queue_.Pop(*memory_);
  ASSERT_TRUE(chain.ok() && chain->has_value());
  EXPECT_FALSE(block_->HandleRequest(0, **chain, *memory_).ok());
}

TEST_F(BlockTest, StateRefusesADifferentImage) {
  Open(false);
  BlockState s = block_->Save();
  EXPECT_EQ(s.capacity_sectors, 2048u);
  s.serial = "kept";
  EXPECT_TRUE(block_->Restore(s).ok());
  EXPECT_EQ(block_->Save().serial, "kept");
  s.capacity_sectors = 4096;
  EXPECT_FALSE(block_->Restore(s).ok());
}

}  // namespace
}  // namespace ferry
