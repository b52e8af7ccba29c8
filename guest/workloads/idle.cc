// idle [--duration S] [--heartbeat-ms M] [--vector-check]: prints heartbeats and nothing
// else; the baseline for migrating a guest that dirties almost no memory.
#include "rt/console.h"
#include "rt/exit.h"
#include "rt/format.h"
#include "rt/heartbeat.h"
#include "rt/kvmclock.h"
#include "rt/vector_canary.h"
#include "rt/x86.h"
#include "workloads/workload.h"

namespace guest {
namespace {

Duration g_duration{true, 0};
uint64_t g_heartbeat_ns = 0;
bool g_vector_check = false;

void configure(Args& args, const Machine&) {
  g_duration = args.duration("duration", Duration{true, 0});
  g_heartbeat_ns = args.number("heartbeat-ms", 5, 0, 3'600'000) * 1'000'000;
  g_vector_check = args.flag("vector-check");
  if (!clock::available()) fatal(kExitInternal, "idle needs kvmclock");
}

uint32_t run(int cpu) {
  Heartbeat heartbeat(cpu, g_heartbeat_ns);
  VectorCanary canary;
  if (g_vector_check) canary.arm(cpu);
  uint64_t start = clock::now_ns();
  heartbeat.start(start);
  for (;;) {
    uint64_t now = clock::now_ns();
    heartbeat.poll(now);
    if (!g_duration.forever && now - start >= g_duration.ns) break;
    x86::pause();
  }
  canary.check("idle");
  char gap[24];
  console::print("idle: PASS cpu=%d max_gap_ms=%s\n", cpu, format_ms(heartbeat.max_gap_ns(), gap));
  return kExitPass;
}

}  // namespace

extern const Workload kIdleWorkload = {"idle", configure, run};

}  // namespace guest
