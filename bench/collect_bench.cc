// One Collect() of the dirty-page tracker on a paused 1 GiB guest with N dirty
// pages, for the dirty log and the dirty ring side by side.
//
//   build/bench/ferry_collect_bench GUEST.elf [ROUNDS]
//
// For each working set size, each method boots the guest kit's dirtier
// (sequential, max rate), starts tracking, then ROUNDS times: lets the guest
// rewrite its working set, pauses, times one Collect(), resumes. The ring's
// column also counts harvests done on vCPU threads at ring-full exits
// between collects (they are part of what tracking costs). Prints a table.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "vm/virtual_machine.h"

namespace ferry {
namespace {

struct Sample {
  double collect_ms = 0;
  uint64_t pages = 0;
  uint64_t full_exits = 0;
  double vcpu_harvest_ms = 0;  // ring only: harvests outside Collect
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// interval_ms 0: long enough for a whole sweep of the working set.
Result<std::vector<Sample>> Measure(const std::string& guest, const char* method,
                                    uint64_t working_set, int rounds, int interval_ms = 0) {
  VmConfig config;
  config.kernel = guest;
  config.memory_bytes = 1ull << 30;
  config.console = "none";
  config.cmdline = "dirtier --size " + std::to_string(working_set >> 20) +
                   "M --rate max --pattern seq --duration forever --heartbeat-ms 0";
  ASSIGN_OR_RETURN(config.dirty_tracking, ParseDirtyTracking(method));
  ASSIGN_OR_RETURN(std::unique_ptr<VirtualMachine> vm, VirtualMachine::Create(config));
  RETURN_IF_ERROR(vm->Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(800));  // the working set is mapped
  ASSIGN_OR_RETURN(std::unique_ptr<migration::DirtyTracker> tracker, vm->StartDirtyTracking());
  ASSIGN_OR_RETURN(migration::DirtyBitmap armed, tracker->Collect());
  (void)armed;
  // Under write protection a first write costs a fault (~3.4 us here): give
  // the guest time for a whole sweep of its working set and then some.
  auto sweep =
      std::chrono::milliseconds(interval_ms ? interval_ms : 100 + working_set / 4096 * 8 / 1000);
  std::vector<Sample> samples;
  for (int i = 0; i < rounds; ++i) {
    DirtyRings::Stats before = vm->dirty_rings() ? vm->dirty_rings()->stats() : DirtyRings::Stats{};
    std::this_thread::sleep_for(sweep);
    RETURN_IF_ERROR(vm->Pause());
    int64_t start = MonotonicNs();
    ASSIGN_OR_RETURN(migration::DirtyBitmap dirty, tracker->Collect());
    Sample s;
    s.collect_ms = NsToMs(MonotonicNs() - start);
    s.pages = dirty.Count();
    RETURN_IF_ERROR(vm->Resume());
    if (vm->dirty_rings()) {
      DirtyRings::Stats after = vm->dirty_rings()->stats();
      s.full_exits = after.full_exits - before.full_exits;
      // Harvest time that was not this Collect: ring-full exits since the last one.
      s.vcpu_harvest_ms =
          std::max(0.0, NsToMs(after.harvest_ns - before.harvest_ns) - s.collect_ms);
    }
    samples.push_back(s);
  }
  tracker.reset();
  vm->RequestStop({StopReason::Kind::kRequested, 0, "done"});
  vm->Wait();
  return samples;
}

}  // namespace
}  // namespace ferry

// What tracking costs the guest: a 768 MiB working set rewritten at max rate
// for 100 ms intervals, far more than it can dirty in one, so the pages
// collected per interval count the first writes the guest managed (each one a
// write-protect fault, plus its ring push or bitmap bit).
int FaultCost(const char* guest, int rounds) {
  using namespace ferry;
  std::printf("| method | pages first-written per 100 ms (median) | us per first write |\n");
  std::printf("|---|---|---|\n");
  const char* methods[2] = {"log", "ring"};
  std::vector<double> pages[2];
  for (int rep = 0; rep < 3; ++rep) {
    for (int m = 0; m < 2; ++m) {
      Result<std::vector<Sample>> s = Measure(guest, methods[m], 768ull << 20, rounds, 100);
      if (!s.ok()) {
        std::fprintf(stderr, "%s: %s\n", methods[m], s.error().message().c_str());
        return 1;
      }
      for (const Sample& x : *s) pages[m].push_back(static_cast<double>(x.pages));
    }
  }
  for (int m = 0; m < 2; ++m) {
    double p = Median(pages[m]);
    std::printf("| %s | %.0f | %.2f |\n", methods[m], p, p > 0 ? 100'000.0 / p : 0);
  }
  return 0;
}

int main(int argc, char** argv) {
  using namespace ferry;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s GUEST.elf [ROUNDS]\n", argv[0]);
    return 2;
  }
  int rounds = argc > 2 ? std::atoi(argv[2]) : 7;
  if (argc > 3 && std::string(argv[3]) == "--fault-cost") return FaultCost(argv[1], rounds);
  std::printf(
      "| dirty pages (working set) | log: collect ms | ring: collect ms | ring/log |"
      " ring: full exits per interval | ring: harvest ms on vCPU threads per interval |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (uint64_t mib : {4, 64, 256, 768}) {
    std::vector<double> ms[2];
    uint64_t pages[2] = {0, 0};
    double exits = 0, vcpu_ms = 0;
    const char* methods[2] = {"log", "ring"};
    // Interleave the methods, one VM each per repetition.
    for (int rep = 0; rep < 2; ++rep) {
      for (int m = 0; m < 2; ++m) {
        Result<std::vector<Sample>> s = Measure(argv[1], methods[m], mib << 20, rounds);
        if (!s.ok()) {
          std::fprintf(stderr, "%s: %s\n", methods[m], s.error().message().c_str());
          return 1;
        }
        for (const Sample& x : *s) {
          ms[m].push_back(x.collect_ms);
          pages[m] = std::max(pages[m], x.pages);
          if (m == 1) {
            exits += static_cast<double>(x.full_exits);
            vcpu_ms += x.vcpu_harvest_ms;
          }
        }
      }
    }
    double log_ms = Median(ms[0]), ring_ms = Median(ms[1]);
    double n = static_cast<double>(ms[1].size());
    std::printf("| %llu / %llu (%llu MiB) | %.3f | %.3f | %.2f | %.1f | %.3f |\n",
                static_cast<unsigned long long>(pages[0]),
                static_cast<unsigned long long>(pages[1]), static_cast<unsigned long long>(mib),
                log_ms, ring_ms, log_ms > 0 ? ring_ms / log_ms : 0, exits / n, vcpu_ms / n);
    std::fflush(stdout);
  }
  return 0;
}
