#include "rt/kvmclock.h"

#include "rt/boot.h"
#include "rt/cpu.h"
#include "rt/x86.h"

namespace guest {

// struct pvclock_vcpu_time_info: the host updates it; version is odd while it does.
struct PvclockTimeInfo {
  uint32_t version;
  uint32_t pad0;
  uint64_t tsc_timestamp;
  uint64_t system_time;
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags;
  uint8_t pad[2];
};
static_assert(sizeof(PvclockTimeInfo) == GUEST_PVCLOCK_SIZE);

}  // namespace guest

// One per CPU; boot/cpu_enter.S hands the address of entry N to the host for CPU N.
extern "C" alignas(64) volatile guest::PvclockTimeInfo guest_pvclock[GUEST_MAX_CPUS];
alignas(64) volatile guest::PvclockTimeInfo guest_pvclock[GUEST_MAX_CPUS];

namespace guest::clock {

bool available() {
  return boot_kvmclock_msr != 0 && guest_pvclock[this_cpu()].version != 0;
}

uint64_t now_ns() {
  const volatile PvclockTimeInfo& info = guest_pvclock[this_cpu()];
  uint32_t version;
  uint64_t ns;
  do {
    version = info.version;
    asm volatile("" ::: "memory");
    uint64_t delta = x86::rdtsc_ordered() - info.tsc_timestamp;
    int shift = info.tsc_shift;
    delta = shift >= 0 ? delta << shift : delta >> -shift;
    ns = info.system_time +
         static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * info.tsc_to_system_mul) >>
                               32);
    asm volatile("" ::: "memory");
  } while ((version & 1) != 0 || version != info.version);
  return ns;
}

}  // namespace guest::clock
