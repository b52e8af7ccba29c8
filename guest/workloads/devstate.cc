// devstate [--duration S|forever] [--heartbeat-ms M] [--check-ms M] [--no-vector-check]
//
// Programs interrupt-controller and timer state (devstate_chips.h), loads a pattern into
// the AVX registers, then checks every --check-ms that all of it reads back unchanged and
// that the LAPIC timer and the PIT count on at their rates against kvmclock
// (devstate_counter.h). A VMM that loses or garbles LAPIC, IOAPIC, PIC, PIT or XSAVE
// state across a pause, a snapshot and restore or a migration makes it fail loudly.
#include <stdarg.h>

#include "rt/console.h"
#include "rt/exit.h"
#include "rt/format.h"
#include "rt/heartbeat.h"
#include "rt/kvmclock.h"
#include "rt/vector_canary.h"
#include "rt/x86.h"
#include "workloads/devstate_chips.h"
#include "workloads/devstate_counter.h"
#include "workloads/devstate_sample.h"
#include "workloads/workload.h"

namespace guest::devstate {
namespace {

constexpr uint64_t kNsPerMs = 1'000'000;
constexpr uint64_t kClockBackTolerance = kNsPerMs;
constexpr uint64_t kReportGapNs = 100 * kNsPerMs;
constexpr uint64_t kPerturbAfterNs = 200 * kNsPerMs;

// --selftest-perturb accepts these (the read-only ones cannot be changed).
const char* const kPerturbable[] = {"lapic_lvt",    "lapic_divide", "lapic_initial", "lapic_count",
                                    "ioapic_redir", "ioapic_id",    "pit_mode",      "pit_count",
                                    "pic_imr",      "vector"};
constexpr int kPerturbableCount = sizeof(kPerturbable) / sizeof(kPerturbable[0]);

struct Config {
  Duration duration;
  uint64_t heartbeat_ns = 0;
  uint64_t check_ns = 0;
  bool vector_check = true;
  int perturb = -1;  // index into kPerturbable, -1: none
};

constinit Config g_config;

void configure(Args& args, const Machine&) {
  g_config.duration = args.duration("duration", Duration{true, 0});
  g_config.heartbeat_ns = args.number("heartbeat-ms", 5, 0, 3'600'000) * kNsPerMs;
  // The PIT wraps every 50 ms: checks further apart cannot follow it.
  g_config.check_ns = args.number("check-ms", 5, 1, 40) * kNsPerMs;
  g_config.vector_check = !args.flag("no-vector-check");
  g_config.perturb = args.choice("selftest-perturb", kPerturbable, kPerturbableCount, -1);
  if (!clock::available()) fatal(kExitInternal, "devstate needs kvmclock");
}

[[noreturn]] __attribute__((format(printf, 2, 3))) void fail(int cpu, const char* fmt, ...) {
  char text[200];
  va_list args;
  va_start(args, fmt);
  vsnformat(text, sizeof(text), fmt, args);
  va_end(args);
  console::print("devstate: FAIL cpu=%d %s\n", cpu, text);
  exit_guest(kExitVerifyFailed);
}

// What one CPU checks and what it has seen.
struct State {
  explicit State(int c) : cpu(c) {}

  int cpu;
  uint32_t lapic_initial = 0;
  RegisterSet regs;
  VectorCanary canary;
  CounterTrack lapic{1, 1, true};
  CounterTrack pit{kPitReload, kPitHz, false};
  uint64_t lapic_hz = 0;
  uint64_t last_ns = 0;  // latest kvmclock reading
  uint64_t checks = 0;
};

// kvmclock must not go back (beyond a little jitter): a VMM that restores it stale does.
void clock_moved_on(State& st, uint64_t t) {
  if (t + kClockBackTolerance < st.last_ns) {
    fail(st.cpu, "what=kvmclock expected=>=%lu found=%lu", st.last_ns, t);
  }
  if (t > st.last_ns) st.last_ns = t;
}

void check_range(const State& st, What what, uint32_t count, uint32_t lo, uint32_t hi) {
  if (count < lo || count > hi) {
    fail(st.cpu, "what=%s why=range expected=%u..%u found=%u", what_name(what), lo, hi, count);
  }
}

// Fails on a counter that went back or jumped twice in a row.
void judge(const State& st, What what, const Judgement& j, uint32_t prev, uint32_t now) {
  if (j.verdict != Verdict::kBackwards && j.verdict != Verdict::kJumpAgain) return;
  fail(st.cpu, "what=%s why=%s expected=%lu..%lu found=%lu interval_us=%lu prev=%u now=%u",
       what_name(what), j.verdict == Verdict::kBackwards ? "backwards" : "jump_again", j.lo, j.hi,
       j.moved, j.elapsed / 1000, prev, now);
}

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kTight:
      return "tight";
    case Verdict::kUnknown:
      return "unknown";
    default:
      return "jump";
  }
}

// "12.345" ms that `ticks` last at hz, or "-" when the move is unknown.
const char* ticks_ms(const Judgement& j, uint64_t hz, char (&buf)[24]) {
  if (j.verdict == Verdict::kUnknown || hz == 0) return "-";
  return format_ms(
      static_cast<uint64_t>(static_cast<unsigned __int128>(j.moved) * 1'000'000'000 / hz), buf);
}

// A line for every pause the guest saw and every jump: how far kvmclock and each
// counter moved. This is how a run shows what a VMM does with each timer.
void report_gap(const State& st, const Judgement& lj, const Judgement* pj) {
  bool jumped = lj.verdict == Verdict::kJump || (pj != nullptr && pj->verdict == Verdict::kJump);
  if (!jumped && lj.elapsed < kReportGapNs) return;
  char k[24], l[24], p[24];
  console::print("devstate: gap cpu=%d kvmclock_ms=%s lapic=%s lapic_ms=%s pit=%s pit_ms=%s\n",
                 st.cpu, format_ms(lj.elapsed, k), verdict_name(lj.verdict),
                 ticks_ms(lj, st.lapic_hz, l), pj == nullptr ? "-" : verdict_name(pj->verdict),
                 pj == nullptr ? "-" : ticks_ms(*pj, kPitHz, p));
}

void check_round(State& st) {
  clock_moved_on(st, clock::now_ns());
  uint32_t found;
  if (const Register* r = first_mismatch(st.regs, &found)) {
    fail(st.cpu, "what=%s reg=0x%x expected=0x%x found=0x%x", what_name(r->what), r->reg,
         r->value & r->mask, found);
  }
  VectorMismatch m;
  if (!st.canary.intact(&m)) {
    fail(st.cpu, "what=vector reg=ymm%d lane=%d expected=0x%lx found=0x%lx", m.reg, m.lane,
         m.expected, m.found);
  }

  Sample ls = lapic_sample();
  clock_moved_on(st, ls.t0_ns);
  clock_moved_on(st, ls.t1_ns);
  check_range(st, What::kLapicCount, ls.count, 0, st.lapic_initial);
  uint32_t lapic_prev = st.lapic.last_count();
  Judgement lj = st.lapic.next(ls);
  judge(st, What::kLapicCount, lj, lapic_prev, ls.count);

  Judgement pj{};
  if (st.cpu == 0) {
    Sample ps = pit_sample();
    clock_moved_on(st, ps.t0_ns);
    clock_moved_on(st, ps.t1_ns);
    check_range(st, What::kPitCount, ps.count, 1, kPitReload);
    uint32_t pit_prev = st.pit.last_count();
    pj = st.pit.next(ps);
    judge(st, What::kPitCount, pj, pit_prev, ps.count);
  }
  report_gap(st, lj, st.cpu == 0 ? &pj : nullptr);
  ++st.checks;
}

void perturb_now(State& st) {
  What what;
  what_from_name(kPerturbable[g_config.perturb], &what);
  if (what == What::kVector) {
    st.canary.perturb();
  } else {
    perturb(what, st.cpu);
  }
  console::print("devstate: selftest cpu=%d perturbed=%s\n", st.cpu, what_name(what));
}

uint32_t run(int cpu) {
  State st(cpu);
  st.lapic_initial = program_lapic(cpu, st.regs);
  if (cpu == 0) program_chipset(st.regs);
  if (g_config.vector_check) st.canary.arm(cpu);
  st.last_ns = clock::now_ns();

  Calibration cal = calibrate_lapic();
  if (!cal.moved) {
    fail(cpu, "what=lapic_count why=stopped expected=moving found=%u,%u,%u", cal.counts[0],
         cal.counts[1], cal.counts[2]);
  }
  if (cal.hz == 0) fail(cpu, "what=lapic_count why=unsteady expected=steady_rate found=unsteady");
  st.lapic_hz = cal.hz;
  st.lapic = CounterTrack(st.lapic_initial, st.lapic_hz, true);
  st.lapic.start(lapic_sample());
  if (cpu == 0) st.pit.start(pit_sample());

  Heartbeat heartbeat(cpu, g_config.heartbeat_ns);
  uint64_t start = clock::now_ns();
  heartbeat.start(start);
  uint64_t next_check = start;
  bool perturbed = g_config.perturb < 0 || cpu != 0;
  int final_rounds = 0;
  for (;;) {
    uint64_t now = clock::now_ns();
    heartbeat.poll(now);
    if (!perturbed && now - start >= kPerturbAfterNs) {
      perturb_now(st);
      perturbed = true;
    }
    if (now >= next_check) {
      check_round(st);
      next_check = now + g_config.check_ns;
      // Two more rounds after the end, so a counter that stops just before it still
      // jumps twice.
      if (final_rounds > 0 && ++final_rounds > 2) break;
      if (final_rounds == 0 && !g_config.duration.forever && now - start >= g_config.duration.ns) {
        final_rounds = 1;
      }
    }
    x86::pause();
  }

  if (st.lapic.tight() == 0) {
    fail(cpu, "what=lapic_count why=never_checked expected=>0 found=0");
  }
  if (cpu == 0 && st.pit.tight() == 0) {
    fail(cpu, "what=pit_count why=never_checked expected=>0 found=0");
  }
  char gap[24], pit_hz[24], pit_ok[24];
  snformat(pit_hz, sizeof(pit_hz), "%lu", st.pit.measured_hz());
  snformat(pit_ok, sizeof(pit_ok), "%lu", st.pit.tight());
  const char* vector = !g_config.vector_check ? "off" : (st.canary.armed() ? "on" : "none");
  console::print(
      "devstate: PASS cpu=%d checks=%lu max_gap_ms=%s lapic_hz=%lu lapic_ok=%lu pit_hz=%s "
      "pit_ok=%s jumps=%lu vector=%s\n",
      cpu, st.checks, format_ms(heartbeat.max_gap_ns(), gap), st.lapic_hz, st.lapic.tight(),
      cpu == 0 ? pit_hz : "-", cpu == 0 ? pit_ok : "-", st.lapic.jumps() + st.pit.jumps(), vector);
  return kExitPass;
}

}  // namespace
}  // namespace guest::devstate

namespace guest {
extern const Workload kDevstateWorkload = {"devstate", devstate::configure, devstate::run};
}  // namespace guest
