// Block migration end to end without KVM: SendPrecopy with --copy-storage on
// a DiskWritingVm, whose disk is ferry's real virtio-blk device written by a
// driver thread all through the copy, over loopback TCP into the offline
// receiver and a target image. The target must equal the source when the
// source stopped, byte for byte; a copy cut off half-way must resume.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <random>
#include <thread>

#include "migration/disk_sender.h"
#include "migration/partial_copy.h"
#include "migration/precopy_sender.h"
#include "vm/disk_writing_vm_test_util.h"

namespace ferry {
namespace {

using migration::MigrationReport;
using migration::PrecopyOptions;
using migration::testing::Link;
using migration::testing::PlainReceiver;
using testing::DiskWritingVm;

constexpr uint64_t kDiskBytes = 64ull << 20;
constexpr uint64_t kRamBytes = 32ull << 20;

class BlockMigrationEngine : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/ferry-blkmig-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    source_ = dir_ + "/source.img";
    target_ = dir_ + "/target.img";
    // Random data in the second half; the first half is a hole the writer fills.
    Fd fd(::open(source_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_EQ(::ftruncate(fd.get(), kDiskBytes), 0);
    std::vector<uint8_t> data(kDiskBytes / 2);
    std::mt19937_64 random(3);
    for (size_t i = 0; i < data.size(); i += 8) {
      uint64_t word = random();
      std::memcpy(&data[i], &word, 8);
    }
    ASSERT_EQ(::pwrite(fd.get(), data.data(), data.size(), kDiskBytes / 2),
              static_cast<ssize_t>(data.size()));
  }
  void TearDown() override { (void)std::system(("rm -rf " + dir_).c_str()); }

  static std::vector<uint8_t> Contents(const std::string& path) {
    std::vector<uint8_t> bytes(kDiskBytes);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(::pread(fd.get(), bytes.data(), bytes.size(), 0), static_cast<ssize_t>(kDiskBytes));
    return bytes;
  }

  // Compares chunk by chunk, so that a failure names the first that differs.
  void ExpectSameImages() {
    std::vector<uint8_t> source = Contents(source_), target = Contents(target_);
    for (uint64_t at = 0; at < kDiskBytes; at += migration::kDefaultChunkBytes) {
      if (std::memcmp(&source[at], &target[at], migration::kDefaultChunkBytes) != 0) {
        FAIL() << "chunk " << at / migration::kDefaultChunkBytes << " differs at the destination";
      }
    }
  }

  std::unique_ptr<DiskWritingVm> MakeVm() {
    Result<std::unique_ptr<DiskWritingVm>> vm = DiskWritingVm::Create(kRamBytes, source_);
    EXPECT_TRUE(vm.ok()) << vm.error().message();
    return vm.ok() ? std::move(*vm) : nullptr;
  }

  // Slow enough (32 MiB/s) that the writer's requests land during the copy.
  static PrecopyOptions Options() {
    PrecopyOptions options;
    options.copy_storage = true;
    options.bandwidth = 32ull << 20;
    options.policy.downtime_ms = 50;
    return options;
  }

  // One migration from `vm` over the connection whose ends are given, into
  // `receiver` with the target image.
  Result<MigrationReport> Migrate(DiskWritingVm& vm, int source_fd, int destination_fd,
                                  PlainReceiver& receiver, bool* committed,
                                  const PrecopyOptions& options = Options()) {
    receiver.disk_targets = {target_};
    std::thread destination([&] { receiver.Run(destination_fd); });
    Result<MigrationReport> report =
        migration::SendPrecopy(vm, source_fd, "test", MonotonicNs(), options, committed);
    destination.join();
    return report;
  }

  std::string dir_, source_, target_;
};

Link LoopbackLink() {
  Result<Link> link = migration::testing::LoopbackLink();
  EXPECT_TRUE(link.ok()) << link.error().message();
  return std::move(*link);
}

TEST_F(BlockMigrationEngine, TheTargetEqualsTheSourceAfterWritesDuringTheCopy) {
  std::unique_ptr<DiskWritingVm> vm = MakeVm();
  ASSERT_NE(vm, nullptr);
  vm->StartWriter(kDiskBytes / 4, 24ull << 20);
  Link link = LoopbackLink();
  PlainReceiver receiver;
  bool committed = false;
  PrecopyOptions options = Options();
  std::vector<uint64_t> disk_left;  // what each progress report said of the disk
  options.on_progress = [&](const migration::Progress& p) {
    disk_left.push_back(p.disk_bytes_left);
  };
  Result<MigrationReport> report =
      Migrate(*vm, link.source.get(), link.destination.get(), receiver, &committed, options);
  vm->StopWriter();
  ASSERT_TRUE(report.ok()) << report.error().message();
  ASSERT_TRUE(receiver.handover.ok()) << receiver.handover.error().message();
  EXPECT_TRUE(committed);
  EXPECT_FALSE(vm->writer_failed());
  EXPECT_GT(vm->bytes_written(), 4u * DiskWritingVm::kRequestBytes);
  ExpectSameImages();
  ASSERT_EQ(report->disks.size(), 1u);
  const migration::DiskReport& disk = report->disks[0];
  EXPECT_EQ(disk.mode, "copy");
  EXPECT_GT(disk.dirty_chunks, 0u) << "the writer's chunks were sent again";
  EXPECT_GT(disk.chunks_zero, 0u) << "the hole is elided";
  EXPECT_NE(::access(migration::PartialCopyPath(target_).c_str(), F_OK), 0)
      << "a complete copy leaves no partial-copy record";
  // At 32 MiB/s the copy takes about a second: progress came, and it counted the disk down.
  ASSERT_GE(disk_left.size(), 3u);
  EXPECT_GT(disk_left.front(), kDiskBytes / 4);
  EXPECT_LE(disk_left.front(), kDiskBytes);
  EXPECT_LT(disk_left.back(), disk_left.front());
}

// Forwards the source's bytes to the destination until `budget` have passed,
// then cuts both connections, as a link that drops does; replies flow freely.
void CutAfter(int source, int destination, uint64_t budget) {
  std::vector<char> buffer(1 << 16);
  uint64_t forwarded = 0;
  pollfd fds[2] = {{source, POLLIN, 0}, {destination, POLLIN, 0}};
  while (forwarded < budget) {
    if (::poll(fds, 2, 5000) <= 0) break;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      size_t want = i == 0 ? std::min<uint64_t>(buffer.size(), budget - forwarded) : buffer.size();
      ssize_t n = ::read(fds[i].fd, buffer.data(), want);
      if (n <= 0) return;
      if (::write(fds[1 - i].fd, buffer.data(), static_cast<size_t>(n)) != n) return;
      if (i == 0) forwarded += static_cast<uint64_t>(n);
    }
  }
  ::shutdown(source, SHUT_RDWR);
  ::shutdown(destination, SHUT_RDWR);
}

TEST_F(BlockMigrationEngine, ASecondMigrationResumesACopyCutOffHalfWay) {
  std::unique_ptr<DiskWritingVm> vm = MakeVm();
  ASSERT_NE(vm, nullptr);
  vm->StartWriter(kDiskBytes / 4, 8ull << 20);
  {
    // The first attempt: the link drops after 20 MiB, in the middle of the disk.
    Link to_cut = LoopbackLink();
    Link from_cut = LoopbackLink();
    std::thread cut(
        [&] { CutAfter(to_cut.destination.get(), from_cut.source.get(), 20ull << 20); });
    PlainReceiver receiver;
    bool committed = true;
    PrecopyOptions options = Options();
    options.bandwidth = 0;
    Result<MigrationReport> first = Migrate(*vm, to_cut.source.get(), from_cut.destination.get(),
                                            receiver, &committed, options);
    cut.join();
    ASSERT_FALSE(first.ok()) << "the cut link must fail the first attempt";
    EXPECT_FALSE(committed);
    EXPECT_FALSE(receiver.state.ok());
    ASSERT_EQ(::access(migration::PartialCopyPath(target_).c_str(), F_OK), 0)
        << "the destination records what arrived";
  }
  // The guest runs on at the source and keeps writing; then the second attempt.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Link link = LoopbackLink();
  PlainReceiver receiver;
  bool committed = false;
  Result<MigrationReport> second =
      Migrate(*vm, link.source.get(), link.destination.get(), receiver, &committed);
  vm->StopWriter();
  ASSERT_TRUE(second.ok()) << second.error().message();
  ASSERT_TRUE(receiver.handover.ok()) << receiver.handover.error().message();
  EXPECT_TRUE(committed);
  ExpectSameImages();
  const migration::DiskReport& disk = second->disks[0];
  EXPECT_TRUE(disk.resumed);
  EXPECT_GT(disk.chunks_resumed, 0u) << "chunks that arrived the first time are not sent again";
}

}  // namespace
}  // namespace ferry
