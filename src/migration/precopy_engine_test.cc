// Pre-copy end to end without KVM: SendPrecopy on a PlainVm whose writer
// thread keeps changing pages, over loopback TCP, into the offline receiver.
// What arrives must equal what the source holds when it stopped, byte for
// byte, and a destination that goes away must leave the source running.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <csignal>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "migration/handshake.h"
#include "migration/plain_vm_test_util.h"
#include "migration/precopy_sender.h"
#include "migration/tcp.h"

namespace ferry::migration {
namespace {

using testing::PlainReceiver;
using testing::PlainVm;

using testing::Link;

Link LoopbackLink() {
  Result<Link> link = testing::LoopbackLink();
  EXPECT_TRUE(link.ok()) << link.error().message();
  return std::move(*link);
}

PrecopyOptions Options() {
  PrecopyOptions options;
  options.policy.downtime_ms = 50;
  return options;
}

// Compares page by page, so that a failure names the first page that differs.
void ExpectSameMemory(const GuestMemory& a, const GuestMemory& b) {
  ASSERT_EQ(a.ram_bytes(), b.ram_bytes());
  for (uint64_t at = 0; at < a.ram_bytes(); at += PlainVm::kPage) {
    if (std::memcmp(a.host_base() + at, b.host_base() + at, PlainVm::kPage) != 0) {
      FAIL() << "page " << at / PlainVm::kPage << " differs at the destination";
    }
  }
}

// Migrates `vm` into a PlainReceiver over loopback and returns the report.
Result<MigrationReport> Migrate(PlainVm& vm, PlainReceiver& receiver, bool* committed,
                                const PrecopyOptions& options = Options()) {
  Link link = LoopbackLink();
  std::thread destination([&] { receiver.Run(link.destination.get()); });
  Result<MigrationReport> report =
      SendPrecopy(vm, link.source.get(), "test", MonotonicNs(), options, committed);
  destination.join();
  return report;
}

TEST(PrecopyEngine, AnIdleMachineArrivesByteForByteWithZeroPagesElided) {
  Result<std::unique_ptr<PlainVm>> vm = PlainVm::Create(64 << 20, 3);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  PlainReceiver receiver;
  bool committed = false;
  Result<MigrationReport> report = Migrate(**vm, receiver, &committed);
  ASSERT_TRUE(report.ok()) << report.error().message();
  ASSERT_TRUE(receiver.state.ok()) << receiver.state.error().message();
  ASSERT_TRUE(receiver.handover.ok()) << receiver.handover.error().message();
  EXPECT_TRUE(committed);
  EXPECT_TRUE((*vm)->paused());  // the source stays stopped: the VM is the destination's now
  ExpectSameMemory((*vm)->memory(), *receiver.memory);
  uint64_t pages = (64 << 20) / PlainVm::kPage;
  uint64_t zero = (pages + 2) / 3;
  EXPECT_EQ(report->pages_zero, zero);
  EXPECT_EQ(report->pages_normal, pages - zero);
  EXPECT_GT(report->drain_ms, 0.0);  // the receiver answered `sync` before the pause
  EXPECT_EQ(receiver.state->vcpus.size(), 1u);
  EXPECT_EQ(receiver.state->vcpus[0].regs.rip, 0x100000u);
}

TEST(PrecopyEngine, PagesWrittenDuringTheCopyAreSentAgainAndArrive) {
  Result<std::unique_ptr<PlainVm>> vm = PlainVm::Create(128 << 20, 0);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  (*vm)->StartWriter(200);  // ~800 MiB/s of page writes: several rounds
  PlainReceiver receiver;
  bool committed = false;
  Result<MigrationReport> report = Migrate(**vm, receiver, &committed);
  ASSERT_TRUE(report.ok()) << report.error().message();
  ASSERT_TRUE(receiver.handover.ok()) << receiver.handover.error().message();
  ASSERT_TRUE(committed);
  (*vm)->StopWriter();
  ASSERT_GE(report->rounds.size(), 2u);
  EXPECT_GT(report->rounds[1].pages_sent, 0u);
  ExpectSameMemory((*vm)->memory(), *receiver.memory);
}

TEST(PrecopyEngine, ADestinationThatGoesAwayLeavesTheSourceRunning) {
  Result<std::unique_ptr<PlainVm>> vm = PlainVm::Create(256 << 20, 0);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  (*vm)->StartWriter(20);
  Link link = LoopbackLink();
  PlainReceiver receiver;
  std::thread destination([&] { receiver.Run(link.destination.get()); });
  // The destination's process fails in the middle of the first round: its
  // receiver stops and its socket closes (the source sees a reset).
  std::thread cut([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::shutdown(link.destination.get(), SHUT_RDWR);
    destination.join();
    link.destination.Reset();
  });
  PrecopyOptions options = Options();
  options.bandwidth = 100 << 20;  // round 1 takes about 2.5 s
  bool committed = true;
  // As in ferry's main(): a write to a reset socket fails with EPIPE instead of killing us.
  ::signal(SIGPIPE, SIG_IGN);
  Result<MigrationReport> report =
      SendPrecopy(**vm, link.source.get(), "test", MonotonicNs(), options, &committed);
  cut.join();
  EXPECT_FALSE(report.ok());
  EXPECT_FALSE(committed);
  EXPECT_FALSE((*vm)->paused());      // the guest goes on at the source
  EXPECT_FALSE(receiver.state.ok());  // and nothing was started at the destination
}

TEST(PrecopyEngine, ADestinationThatStopsTakingDataTimesOutAndTheSourceGoesOn) {
  Result<std::unique_ptr<PlainVm>> vm = PlainVm::Create(256 << 20, 0);
  ASSERT_TRUE(vm.ok()) << vm.error().message();
  (*vm)->StartWriter(20);
  Link link = LoopbackLink();
  // A frozen destination: it accepts the machine, reads a little, then
  // neither reads nor closes (a stopped process, a host that hung).
  std::atomic<bool> done{false};
  std::thread destination([&] {
    state::FdSource source(link.destination.get());
    state::FdSink sink(link.destination.get());
    state::SectionReader reader(source);
    state::SectionWriter writer(sink);
    if (!reader.ReadFileHeader().ok() || !reader.Next().ok()) return;
    if (!SendAccept(writer, MonotonicNs()).ok()) return;
    char buffer[1 << 16];
    uint64_t got = 0;
    while (got < (8 << 20)) {
      ssize_t n = ::read(link.destination.get(), buffer, sizeof buffer);
      if (n <= 0) break;
      got += static_cast<uint64_t>(n);
    }
    while (!done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  });
  PrecopyOptions options = Options();
  options.peer_timeout_ms = 1000;
  bool committed = true;
  int64_t start = MonotonicNs();
  Result<MigrationReport> report =
      SendPrecopy(**vm, link.source.get(), "test", start, options, &committed);
  double seconds = (MonotonicNs() - start) / 1e9;
  done.store(true);
  destination.join();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message().find("write timed out"), std::string::npos)
      << report.error().message();
  EXPECT_LT(seconds, 10.0);
  EXPECT_FALSE(committed);
  EXPECT_FALSE((*vm)->paused());
}

}  // namespace
}  // namespace ferry::migration
