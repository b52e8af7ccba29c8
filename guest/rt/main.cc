// Ring-3 life of every CPU: the BSP reads the boot data, prints the "up" line, parses
// the command line, starts the APs and then all CPUs run the workload together.
#include <atomic>

#include "rt/acpi.h"
#include "rt/args.h"
#include "rt/boot.h"
#include "rt/console.h"
#include "rt/exit.h"
#include "rt/io_ports.h"
#include "rt/kvmclock.h"
#include "rt/lapic.h"
#include "rt/smp.h"
#include "rt/start_info.h"
#include "rt/tsc_calibration.h"
#include "rt/x86.h"
#include "workloads/workload.h"

namespace guest {
namespace {

constinit BootInfo g_boot;
constinit acpi::CpuList g_cpus;
constinit Args g_args;
constinit const Workload* g_workload = nullptr;

constinit std::atomic<bool> g_go{false};
constinit std::atomic<int> g_finished{0};
constinit std::atomic<uint32_t> g_status{kExitPass};

// CPU 0 is the BSP whatever its place in the MADT; the others keep their MADT order.
void put_bsp_first(acpi::CpuList& cpus) {
  uint32_t bsp = lapic::id();
  for (int i = 0; i < cpus.count; ++i) {
    if (cpus.apic_ids[i] != bsp) continue;
    for (; i > 0; --i) cpus.apic_ids[i] = cpus.apic_ids[i - 1];
    cpus.apic_ids[0] = bsp;
    return;
  }
  fatal(kExitInternal, "the boot CPU (APIC id %u) is not in the ACPI MADT", bsp);
}

// QEMU's TCG has no kvmclock; the guest kit then times itself with the TSC.
void clock_without_kvmclock() {
  if (boot_kvmclock_msr != 0) return;
  uint64_t tsc_hz = clock::calibrate_tsc_against_pit();
  if (tsc_hz == 0) {
    console::print("ferry-guest: no kvmclock and the PIT does not count: no clock\n");
  } else {
    console::print("ferry-guest: no kvmclock: TSC measured at %lu kHz against the PIT\n",
                   tsc_hz / 1000);
  }
}

void find_cpus() {
  if (acpi::read_cpus(g_boot.rsdp, g_cpus)) {
    put_bsp_first(g_cpus);
  } else {  // no ACPI: one CPU
    g_cpus.count = 1;
    g_cpus.enabled = 1;
    g_cpus.apic_ids[0] = lapic::id();
  }
}

const Workload* choose_workload() {
  const char* name = g_args.workload();
  if (name[0] == '\0') {
    fatal(kExitBadConfig, "no workload on the command line (one of: %s)", workload_names());
  }
  const Workload* workload = find_workload(name);
  if (workload == nullptr) {
    fatal(kExitBadConfig, "unknown workload \"%s\" (one of: %s)", name, workload_names());
  }
  return workload;
}

[[noreturn]] void run_workload(int cpu) {
  uint32_t status = g_workload->run(cpu);
  uint32_t seen = g_status.load(std::memory_order_relaxed);
  while (status > seen && !g_status.compare_exchange_weak(seen, status)) {
  }
  g_finished.fetch_add(1, std::memory_order_acq_rel);
  if (cpu != 0) {
    for (;;) x86::pause();
  }
  while (g_finished.load(std::memory_order_acquire) < g_cpus.count) x86::pause();
  exit_guest(g_status.load());
}

[[noreturn]] void bsp_main() {
  open_io_ports();  // before the first port access (the console's)
  console::init();
  read_boot_info(g_boot);
  find_cpus();
  console::print("ferry-guest: up cpus=%d mem_mib=%lu cmdline=\"%s\"\n", g_cpus.count,
                 g_boot.memory.total_bytes() >> 20, g_boot.cmdline);
  clock_without_kvmclock();
  if (g_cpus.enabled > g_cpus.count) {
    console::print("ferry-guest: warning: using %d of %d CPUs\n", g_cpus.count, g_cpus.enabled);
  }

  g_args.parse(g_boot.cmdline);
  g_workload = choose_workload();
  g_workload->configure(g_args, Machine{g_cpus.count, &g_boot.memory, g_boot.rsdp});
  g_args.reject_unused();

  smp::start_aps(g_cpus, g_boot.memory);
  g_go.store(true, std::memory_order_release);
  run_workload(0);
}

[[noreturn]] void ap_main(int cpu) {
  smp::ap_arrived();
  while (!g_go.load(std::memory_order_acquire)) x86::pause();
  run_workload(cpu);
}

}  // namespace
}  // namespace guest

extern "C" void cpu_main(uint32_t cpu) {
  if (cpu == 0) guest::bsp_main();
  guest::ap_main(static_cast<int>(cpu));
}
