// Block migration end to end on plain files: plan, resume answer, bulk and
// dirty passes while a writer changes the source, and a copy resumed after an
// interrupted first attempt. The result must be bit-identical.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <thread>

#include "migration/disk_receiver.h"
#include "migration/disk_sender.h"
#include "state/memory_stream_test_util.h"

namespace ferry::migration {
namespace {

constexpr uint64_t kDiskBytes = (8ull << 20) + 4096 * 3;  // a partial last chunk

class FileDisk final : public MigratableDisk {
 public:
  explicit FileDisk(std::string path) : path_(std::move(path)) {
    fd_ = Fd(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
  }
  std::string path() const override { return path_; }
  uint64_t size_bytes() const override { return kDiskBytes; }
  bool readonly() const override { return false; }
  int image_fd() const override { return fd_.get(); }
  std::shared_ptr<DiskCopySession> copy_session() const override {
    return std::atomic_load(&session_);
  }
  void set_copy_session(std::shared_ptr<DiskCopySession> s) override {
    std::atomic_store(&session_, s);
  }

  // What a virtio-blk device does: write, then record.
  void GuestWrite(uint64_t offset, const std::vector<uint8_t>& data) {
    ASSERT_EQ(::pwrite(fd_.get(), data.data(), data.size(), static_cast<off_t>(offset)),
              static_cast<ssize_t>(data.size()));
    if (auto s = copy_session()) s->log.Record(offset, data.size());
  }

 private:
  std::string path_;
  Fd fd_;
  std::shared_ptr<DiskCopySession> session_;
};

class DiskMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/ferry-disk-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    source_ = dir_ + "/source.img";
    target_ = dir_ + "/target.img";
    Fd fd(::open(source_.c_str(), O_RDWR | O_CREAT, 0644));
    ASSERT_EQ(::ftruncate(fd.get(), kDiskBytes), 0);
    // Data in the first half, a hole after, and one block at the very end.
    std::vector<uint8_t> data(4 << 20);
    std::mt19937 rng(7);
    for (auto& b : data) b = static_cast<uint8_t>(rng());
    ASSERT_EQ(::pwrite(fd.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    ASSERT_EQ(::pwrite(fd.get(), data.data(), 4096, kDiskBytes - 4096), 4096);
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }

  static std::vector<uint8_t> Contents(const std::string& path) {
    std::vector<uint8_t> bytes(kDiskBytes);
    Fd fd(::open(path.c_str(), O_RDONLY));
    EXPECT_EQ(::pread(fd.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(kDiskBytes));
    return bytes;
  }

  // Applies everything on `wire` up to the End section.
  static Status Deliver(state::MemoryStream& wire, DiskReceiver& receiver) {
    state::SectionReader reader(wire);
    for (;;) {
      ASSIGN_OR_RETURN(state::SectionHeader header, reader.NextHeader());
      if (header.type == static_cast<uint32_t>(state::SectionType::kEnd)) {
        RETURN_IF_ERROR(reader.Finish());
        return OkStatus();
      }
      RETURN_IF_ERROR(receiver.Receive(reader, header));
    }
  }

  // Plan and answer, through the wire codec.
  static Status Negotiate(DiskSender& sender, DiskReceiver& receiver) {
    state::MemoryStream plan_wire;
    state::SectionWriter plan_writer(plan_wire);
    RETURN_IF_ERROR(state::WriteDiskPlan(plan_writer, sender.Plan()));
    state::SectionReader plan_reader(plan_wire);
    ASSIGN_OR_RETURN(state::Section plan_section, plan_reader.Next());
    ASSIGN_OR_RETURN(std::vector<state::DiskPlanEntry> plan, state::ReadDiskPlan(plan_section));
    ASSIGN_OR_RETURN(std::vector<state::DiskResumeEntry> answers, receiver.Prepare(plan));
    state::MemoryStream answer_wire;
    state::SectionWriter answer_writer(answer_wire);
    RETURN_IF_ERROR(state::WriteDiskResume(answer_writer, answers));
    state::SectionReader answer_reader(answer_wire);
    ASSIGN_OR_RETURN(state::Section answer_section, answer_reader.Next());
    ASSIGN_OR_RETURN(std::vector<state::DiskResumeEntry> back,
                     state::ReadDiskResume(answer_section, plan));
    return sender.ApplyResume(back);
  }

  std::string dir_, source_, target_;
};

TEST_F(DiskMigrationTest, CopiesWhileTheGuestWritesAndEndsIdentical) {
  FileDisk disk(source_);
  state::MemoryStream wire;
  state::SectionWriter writer(wire);
  std::atomic<int> batches{0};
  DiskSender sender({&disk}, true, writer, [&] {
    ++batches;
    return OkStatus();
  });
  DiskReceiver receiver({target_});
  ASSERT_TRUE(Negotiate(sender, receiver).ok());
  EXPECT_EQ(sender.BytesLeft(), kDiskBytes) << "a new target needs every chunk";

  std::atomic<bool> stop{false};
  std::thread guest([&] {
    std::mt19937 rng(11);
    while (!stop.load()) {
      uint64_t offset = (rng() % 1024) * 4096;  // the data half: the hole stays a hole
      disk.GuestWrite(offset, std::vector<uint8_t>(4096, static_cast<uint8_t>(rng() | 1)));
    }
  });
  ASSERT_TRUE(sender.BulkPass().ok());
  ASSERT_TRUE(sender.DirtyPass(false).ok());
  stop = true;
  guest.join();
  // The guest is "paused": the last writes go now.
  ASSERT_TRUE(sender.DirtyPass(true).ok());
  EXPECT_EQ(sender.BytesLeft(), 0u);
  ASSERT_TRUE(writer.WriteEnd().ok());
  Status delivered = Deliver(wire, receiver);
  ASSERT_TRUE(delivered.ok()) << delivered.error().message();
  ASSERT_TRUE(receiver.Complete().ok());

  EXPECT_EQ(Contents(source_), Contents(target_));
  EXPECT_NE(::access(PartialCopyPath(target_).c_str(), F_OK), 0) << "the record must go";
  DiskReport report = sender.reports()[0];
  EXPECT_GT(report.chunks_data, 0u);
  EXPECT_GT(report.chunks_zero, 0u) << "the hole is not read or sent";
  EXPECT_GT(batches.load(), 0);
}

TEST_F(DiskMigrationTest, AnInterruptedCopyResumesWhereItStopped) {
  FileDisk disk(source_);
  {
    state::MemoryStream wire;
    state::SectionWriter writer(wire);
    int batches = 0;
    // The connection drops after the second batch went out: chunks 0-63
    // (the data half), then the last chunk (the hole between is never sent).
    DiskSender sender({&disk}, true, writer, [&]() -> Status {
      if (++batches > 1) return Error(ErrorCode::kUnavailable, "connection reset");
      return OkStatus();
    });
    DiskReceiver receiver({target_});
    ASSERT_TRUE(Negotiate(sender, receiver).ok());
    EXPECT_FALSE(sender.BulkPass().ok());
    ASSERT_TRUE(writer.WriteEnd().ok());
    ASSERT_TRUE(Deliver(wire, receiver).ok());
    ASSERT_TRUE(receiver.SaveProgress().ok());  // what a failed `ferry receive` does
  }
  // The guest writes into a chunk that already arrived: it must travel again.
  disk.GuestWrite(4096, std::vector<uint8_t>(4096, 0x5a));

  state::MemoryStream wire;
  state::SectionWriter writer(wire);
  DiskSender sender({&disk}, true, writer, [] { return OkStatus(); });
  DiskReceiver receiver({target_});
  ASSERT_TRUE(Negotiate(sender, receiver).ok());
  ASSERT_TRUE(sender.BulkPass().ok());
  ASSERT_TRUE(sender.DirtyPass(true).ok());
  ASSERT_TRUE(writer.WriteEnd().ok());
  ASSERT_TRUE(Deliver(wire, receiver).ok());
  ASSERT_TRUE(receiver.Complete().ok());
  EXPECT_EQ(Contents(source_), Contents(target_));
  DiskReport report = sender.reports()[0];
  EXPECT_TRUE(report.resumed);
  EXPECT_EQ(report.chunks_resumed, 64u) << "65 chunks arrived, one was rewritten since";
}

TEST_F(DiskMigrationTest, RefusesToOverwriteAnUnrelatedImage) {
  {
    Fd fd(::open(target_.c_str(), O_RDWR | O_CREAT, 0644));
    ASSERT_EQ(::write(fd.get(), "data", 4), 4);
  }
  FileDisk disk(source_);
  state::MemoryStream wire;
  state::SectionWriter writer(wire);
  DiskSender sender({&disk}, true, writer, [] { return OkStatus(); });
  DiskReceiver receiver({target_});
  Status negotiated = Negotiate(sender, receiver);
  ASSERT_FALSE(negotiated.ok());
  EXPECT_NE(negotiated.error().message().find("not an unfinished copy"), std::string::npos)
      << negotiated.error().message();
}

TEST_F(DiskMigrationTest, NeedsOneTargetPerDisk) {
  FileDisk disk(source_);
  state::MemoryStream wire;
  state::SectionWriter writer(wire);
  DiskSender sender({&disk}, true, writer, [] { return OkStatus(); });
  DiskReceiver receiver({});
  Status negotiated = Negotiate(sender, receiver);
  ASSERT_FALSE(negotiated.ok());
  EXPECT_NE(negotiated.error().message().find("--disk"), std::string::npos);
}

TEST(BlockWriteLog, RecordsChunksAndKeepsTheSessionUnion) {
  BlockWriteLog log(10 * 65536 + 512, 65536);
  EXPECT_EQ(log.chunks(), 11u);
  log.Record(65536 - 1, 2);         // straddles chunks 0 and 1
  log.Record(10 * 65536 + 100, 1);  // the partial last chunk
  log.Record(20 * 65536, 4096);     // past the end: ignored
  EXPECT_EQ(log.PendingCount(), 3u);
  std::vector<uint64_t> got = log.Collect();
  EXPECT_EQ(got[0], (1u << 0) | (1u << 1) | (1u << 10));
  EXPECT_EQ(log.PendingCount(), 0u);
  EXPECT_EQ(log.Collect()[0], 0u);
  EXPECT_EQ(log.WrittenSinceStart()[0], (1u << 0) | (1u << 1) | (1u << 10));
}

TEST(DiskPlan, RefusesABadChunkSize) {
  state::MemoryStream wire;
  state::SectionWriter writer(wire);
  state::DiskPlanEntry e;
  e.size_bytes = 1 << 20;
  e.mode = state::DiskMode::kCopy;
  e.chunk_bytes = 3000;
  ASSERT_TRUE(state::WriteDiskPlan(writer, {e}).ok());
  state::SectionReader reader(wire);
  Result<state::Section> section = reader.Next();
  ASSERT_TRUE(section.ok());
  Result<std::vector<state::DiskPlanEntry>> plan = state::ReadDiskPlan(*section);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().message().find("chunk size"), std::string::npos);
}

}  // namespace
}  // namespace ferry::migration
