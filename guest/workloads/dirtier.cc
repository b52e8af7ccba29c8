// dirtier --size SIZE --rate R|max --duration S|forever --pattern seq|random|hotcold
//         [--heartbeat-ms M] [--sweep-ms M] [--hot-pct P] [--vector-check] [--heartbeat-work]
//
// Writes memory at a set rate and verifies it, so that a live migration that loses or
// corrupts a page, or restores stale memory, makes the guest fail loudly. Each CPU owns
// a disjoint slice of the working set and a slice of the version table. Before a page
// is rewritten it must hold exactly its last version; every --sweep-ms all pages written
// so far are checked (in small steps between heartbeats), and once more at the end.
#include "rt/console.h"
#include "rt/exit.h"
#include "rt/format.h"
#include "rt/heartbeat.h"
#include "rt/kvmclock.h"
#include "rt/pacer.h"
#include "rt/vector_canary.h"
#include "rt/x86.h"
#include "workloads/dirtier_pick.h"
#include "workloads/dirtier_slice.h"
#include "workloads/workload.h"

namespace guest::dirtier {
namespace {

constexpr uint64_t kBurstPages = 16;  // most pages written between clock checks
constexpr uint64_t kNsPerMs = 1'000'000;

struct Config {
  uint64_t pages_per_cpu = 0;
  uint64_t base = 0;             // guest-physical address of page 0
  uint64_t* versions = nullptr;  // per page: 0 = never written
  uint64_t rate_per_cpu = 0;     // bytes/s, 0 = max
  Duration duration;
  Pattern pattern = Pattern::kSeq;
  uint64_t hot_pages = 0;
  uint64_t heartbeat_ns = 0;
  uint64_t sweep_ns = 0;
  bool selftest_corrupt = false;
  bool vector_check = false;
  bool heartbeat_work = false;  // heartbeats end in work=PAGES_WRITTEN
};

constinit Config g_config;

const char* const kPatterns[] = {"seq", "random", "hotcold"};

void configure(Args& args, const Machine& machine) {
  uint64_t size = args.size("size", 64ull << 20);
  Rate rate = args.rate("rate", Rate{true, 0});
  g_config.duration = args.duration("duration", Duration{true, 0});
  g_config.pattern = static_cast<Pattern>(args.choice("pattern", kPatterns, 3, 0));
  g_config.heartbeat_ns = args.number("heartbeat-ms", 5, 0, 3'600'000) * kNsPerMs;
  g_config.sweep_ns = args.number("sweep-ms", 1000, 0, 3'600'000) * kNsPerMs;
  uint64_t hot_pct = args.number("hot-pct", 10, 1, 100);
  g_config.selftest_corrupt = args.flag("selftest-corrupt");
  g_config.vector_check = args.flag("vector-check");
  g_config.heartbeat_work = args.flag("heartbeat-work");
  if (!clock::available()) fatal(kExitInternal, "dirtier needs kvmclock");

  char text[24];
  uint64_t pages = size / kPageSize / static_cast<uint64_t>(machine.cpus);
  if (pages == 0) {
    fatal(kExitBadConfig, "--size %s is less than a 4K page for each of %d CPUs",
          format_size(size, text), machine.cpus);
  }
  g_config.pages_per_cpu = pages;
  g_config.rate_per_cpu =
      rate.max ? 0 : rate.bytes_per_second / static_cast<uint64_t>(machine.cpus);
  if (!rate.max && g_config.rate_per_cpu == 0) g_config.rate_per_cpu = 1;
  g_config.hot_pages = pages * hot_pct / 100;
  if (g_config.hot_pages == 0) g_config.hot_pages = 1;

  // The version table first, then the working set on a 2 MiB boundary.
  uint64_t total_pages = pages * static_cast<uint64_t>(machine.cpus);
  uint64_t table_bytes = align_up(total_pages * sizeof(uint64_t), kLargePageSize);
  uint64_t bytes = table_bytes + total_pages * kPageSize;
  uint64_t table = machine.memory->place(bytes, kLargePageSize);
  if (table == 0) {
    fatal(kExitBadConfig, "not enough RAM for --size %s: needs %lu MiB free above the guest image",
          format_size(size, text), align_up(bytes, 1 << 20) >> 20);
  }
  g_config.versions = x86::phys<uint64_t>(table);
  g_config.base = table + table_bytes;
  __builtin_memset(g_config.versions, 0, total_pages * sizeof(uint64_t));
}

// Mebibytes per second with one decimal, from pages written over ns.
const char* format_rate(uint64_t pages, uint64_t ns, char (&buf)[24]) {
  uint64_t tenths = ns == 0 ? 0
                            : static_cast<uint64_t>(static_cast<unsigned __int128>(pages) *
                                                        kPageSize * 10 * 1'000'000'000 / ns >>
                                                    20);
  snformat(buf, sizeof(buf), "%lu.%lu", tenths / 10, tenths % 10);
  return buf;
}

uint32_t run(int cpu) {
  uint64_t first = static_cast<uint64_t>(cpu) * g_config.pages_per_cpu;
  Slice slice(cpu,
              SliceLayout{g_config.base, first, g_config.pages_per_cpu, g_config.versions + first});
  PagePicker picker(g_config.pattern, slice.pages(), g_config.hot_pages,
                    0x9e3779b97f4a7c15ull * static_cast<uint64_t>(cpu + 1));
  Heartbeat heartbeat(cpu, g_config.heartbeat_ns);
  Sweep sweep;
  uint64_t sweeps = 0;
  bool corrupt_next = g_config.selftest_corrupt && cpu == 0;
  VectorCanary canary;
  if (g_config.vector_check) canary.arm(cpu);

  uint64_t start = clock::now_ns();
  uint64_t now = start;
  uint64_t next_sweep = start + g_config.sweep_ns;
  heartbeat.start(start);
  Pacer pacer(g_config.rate_per_cpu, kPageSize, start);

  while (g_config.duration.forever || now - start < g_config.duration.ns) {
    if (g_config.sweep_ns != 0 && !sweep.active() && now >= next_sweep) sweep.begin();
    if (sweep.active() && sweep.step(slice)) {
      canary.check("dirtier");
      ++sweeps;
      next_sweep = now + g_config.sweep_ns;
    }
    uint64_t burst = pacer.take(now, kBurstPages);
    for (uint64_t i = 0; i < burst; ++i) {
      uint64_t page = picker.next();
      slice.write(page);
      if (corrupt_next) slice.corrupt(page);  // --selftest-corrupt: the checks must notice
      corrupt_next = false;
    }
    if (burst == 0 && !sweep.active()) x86::pause();
    now = clock::now_ns();
    if (g_config.heartbeat_work) heartbeat.set_work(slice.written());
    heartbeat.poll(now);
  }
  uint64_t write_ns = now - start;

  sweep.begin();
  while (!sweep.step(slice)) heartbeat.poll(clock::now_ns());
  canary.check("dirtier");
  ++sweeps;

  char rate[24], gap[24];
  console::print(
      "dirtier: PASS cpu=%d pages_written=%lu mib_s=%s pages_verified=%lu sweeps=%lu "
      "max_gap_ms=%s\n",
      cpu, slice.written(), format_rate(slice.written(), write_ns, rate), slice.verified(), sweeps,
      format_ms(heartbeat.max_gap_ns(), gap));
  return kExitPass;
}

}  // namespace
}  // namespace guest::dirtier

namespace guest {
extern const Workload kDirtierWorkload = {"dirtier", dirtier::configure, dirtier::run};
}  // namespace guest
