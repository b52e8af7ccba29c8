#include "rt/smp.h"

#include <atomic>

#include "rt/boot.h"
#include "rt/exit.h"
#include "rt/kvmclock.h"
#include "rt/lapic.h"
#include "rt/x86.h"

namespace guest::smp {
namespace {

constexpr uint64_t kLowMemoryEnd = 0xa0000;  // the SIPI vector addresses pages below this
constexpr uint64_t kApTimeoutNs = 1'000'000'000;
constexpr uint64_t kApTimeoutSpins = 100'000'000;

constinit std::atomic<int> g_arrived{1};  // the BSP counts as arrived

// The boot loader's data below 1 MiB has been copied out by now, so any RAM page there
// will do for the trampoline.
uint64_t trampoline_page(const MemoryMap& memory) {
  uint64_t size = static_cast<uint64_t>(ap_trampoline_end - ap_trampoline_start);
  for (uint64_t page = kPageSize; page + kPageSize <= kLowMemoryEnd; page += kPageSize) {
    if (memory.is_ram(page, size)) return page;
  }
  return 0;
}

bool wait_for_arrival(int expected) {
  // Without kvmclock (e.g. QEMU TCG) there is no time base: bound the spins instead.
  bool timed = clock::available();
  uint64_t deadline = timed ? clock::now_ns() + kApTimeoutNs : 0;
  for (uint64_t spins = 0; g_arrived.load(std::memory_order_acquire) < expected; ++spins) {
    if (timed ? clock::now_ns() > deadline : spins > kApTimeoutSpins) return false;
    x86::pause();
  }
  return true;
}

}  // namespace

void ap_arrived() {
  g_arrived.fetch_add(1, std::memory_order_release);
}

void start_aps(const acpi::CpuList& cpus, const MemoryMap& memory) {
  if (cpus.count <= 1) return;
  uint64_t page = trampoline_page(memory);
  if (page == 0) fatal(kExitInternal, "no free page below 640 KiB for the AP trampoline");
  __builtin_memcpy(x86::phys<void>(page), ap_trampoline_start,
                   static_cast<size_t>(ap_trampoline_end - ap_trampoline_start));

  uint32_t vector = static_cast<uint32_t>(page >> 12);
  for (int cpu = 1; cpu < cpus.count; ++cpu) {
    uint32_t apic_id = cpus.apic_ids[cpu];
    if (apic_id > 0xff) fatal(kExitInternal, "APIC id %u needs x2APIC", apic_id);
    // INIT, then SIPI twice as the MP spec asks; a CPU already running ignores the second.
    // KVM needs no delays between them.
    lapic::send_ipi(apic_id, lapic::kIcrInitAssert);
    lapic::send_ipi(apic_id, lapic::kIcrStartup | vector);
    lapic::send_ipi(apic_id, lapic::kIcrStartup | vector);
    if (!wait_for_arrival(cpu + 1)) {
      fatal(kExitInternal, "cpu %d (APIC id %u) did not start", cpu, apic_id);
    }
  }
}

}  // namespace guest::smp
