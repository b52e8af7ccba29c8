// The pre-copy data path without a guest and without KVM: SendPrecopy on
// plain memory (src/migration/plain_vm_test_util.h) into the offline
// receiver over loopback TCP, beside a plain TCP stream between two threads
// of the same process (the "loopback" the live-migration goal is measured
// against). Round 1 of an idle machine is the bulk copy.
//
//   build/src/ferry_migration_engine_bench [--gib N] [--runs N] [--spin]
//
// --spin keeps a third thread busy, as a guest's spinning vCPU does on a
// 2-core host during a live migration.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "migration/plain_vm_test_util.h"
#include "migration/precopy_sender.h"
#include "migration/tcp.h"

namespace ferry::migration {
namespace {

using testing::Link;
using testing::LoopbackLink;

// One TCP stream, 1 MiB writes from one thread, 1 MiB reads in another.
Result<double> PlainTcpMibPerS(uint64_t bytes) {
  ASSIGN_OR_RETURN(Link link, LoopbackLink());
  TuneSocket(link.source.get());
  TuneSocket(link.destination.get());
  std::thread reader([&] {
    std::vector<char> buffer(1 << 20);
    uint64_t got = 0;
    while (got < bytes) {
      ssize_t n = ::read(link.destination.get(), buffer.data(), buffer.size());
      if (n <= 0) return;
      got += static_cast<uint64_t>(n);
    }
  });
  std::vector<char> block(1 << 20, 'x');
  int64_t start = MonotonicNs();
  for (uint64_t sent = 0; sent < bytes;) {
    ssize_t n = ::write(link.source.get(), block.data(), block.size());
    if (n <= 0) break;
    sent += static_cast<uint64_t>(n);
  }
  reader.join();
  return static_cast<double>(bytes) / (1 << 20) / ((MonotonicNs() - start) / 1e9);
}

struct EngineRun {
  double mib_per_s = 0;  // bytes on the wire / total time: what the destination got
  double round1_mib_per_s = 0;
  double total_ms = 0;
  double downtime_ms = 0;
};

Result<EngineRun> Engine(testing::PlainVm& vm) {
  ASSIGN_OR_RETURN(Link link, LoopbackLink());
  testing::PlainReceiver receiver;
  std::thread destination([&] { receiver.Run(link.destination.get()); });
  PrecopyOptions options;
  bool committed = false;
  Result<MigrationReport> report =
      SendPrecopy(vm, link.source.get(), "bench", MonotonicNs(), options, &committed);
  destination.join();
  RETURN_IF_ERROR(report);
  RETURN_IF_ERROR(receiver.handover);
  RETURN_IF_ERROR(vm.Resume());
  if (std::getenv("FERRY_BENCH_REPORT")) std::fprintf(stderr, "%s\n", report->ToText().c_str());
  return EngineRun{static_cast<double>(report->bytes_sent) / (1 << 20) / (report->total_ms / 1e3),
                   report->rounds.front().mib_per_s, report->total_ms, report->downtime_ms};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int Main(int argc, char** argv) {
  uint64_t gib = 1;
  int runs = 3;
  bool spin = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--gib" && i + 1 < argc) gib = std::stoull(argv[++i]);
    if (flag == "--runs" && i + 1 < argc) runs = std::stoi(argv[++i]);
    if (flag == "--spin") spin = true;
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::atomic<bool> stop{false};
  std::thread spinner;
  if (spin) {
    spinner = std::thread([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  Result<std::unique_ptr<testing::PlainVm>> vm = testing::PlainVm::Create(gib << 30, 0);
  if (!vm.ok()) {
    std::fprintf(stderr, "%s\n", vm.error().message().c_str());
    return 1;
  }
  std::vector<double> tcp, end_to_end, round1, total, downtime;
  for (int r = 0; r < runs; ++r) {
    Result<double> plain = PlainTcpMibPerS(gib << 30);
    Result<EngineRun> engine = Engine(**vm);
    if (!plain.ok() || !engine.ok()) {
      std::fprintf(stderr, "%s\n",
                   (!plain.ok() ? plain.error() : engine.error()).message().c_str());
      return 1;
    }
    tcp.push_back(*plain);
    end_to_end.push_back(engine->mib_per_s);
    round1.push_back(engine->round1_mib_per_s);
    total.push_back(engine->total_ms);
    downtime.push_back(engine->downtime_ms);
  }
  stop.store(true);
  if (spinner.joinable()) spinner.join();
  std::printf(
      "Pre-copy data path without a guest (`ferry_migration_engine_bench --gib %lu --runs %d%s`): "
      "%lu GiB of random pages, idle, loopback TCP; medians of %d runs\n\n",
      static_cast<unsigned long>(gib), runs, spin ? " --spin" : "", static_cast<unsigned long>(gib),
      runs);
  std::printf(
      "| plain TCP stream MiB/s | engine MiB/s (bytes / total) | engine / TCP | round 1 write rate "
      "MiB/s | total ms | downtime ms (range) |\n");
  std::printf("|---|---|---|---|---|---|\n");
  std::printf("| %.0f | %.0f | %.2f | %.0f | %.0f | %.2f (%.2f–%.2f) |\n", Median(tcp),
              Median(end_to_end), Median(end_to_end) / Median(tcp), Median(round1), Median(total),
              Median(downtime), *std::min_element(downtime.begin(), downtime.end()),
              *std::max_element(downtime.begin(), downtime.end()));
  return 0;
}

}  // namespace
}  // namespace ferry::migration

int main(int argc, char** argv) {
  return ferry::migration::Main(argc, argv);
}
