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
namespace {

constinit bool g_tsc_rate_published = false;

struct TimeScale {
  int8_t shift;
  uint32_t mul;
};

// The pvclock scale that turns TSC cycles at tsc_hz into nanoseconds:
// ns = ((cycles << shift) * mul) >> 32, with mul as large as 32 bits allow.
TimeScale scale_to_ns(uint64_t tsc_hz) {
  constexpr uint64_t kHigh32 = 0xffffffff00000000ull;
  uint64_t ns_per_s = 1000000000ull;
  uint64_t rate = tsc_hz;
  int shift = 0;
  while (rate > ns_per_s * 2 || (rate & kHigh32) != 0) {
    rate >>= 1;
    --shift;
  }
  uint32_t rate32 = static_cast<uint32_t>(rate);
  while (rate32 <= ns_per_s || (ns_per_s & kHigh32) != 0) {
    if ((ns_per_s & kHigh32) != 0 || (rate32 & 0x80000000u) != 0) {
      ns_per_s >>= 1;
    } else {
      rate32 <<= 1;
    }
    ++shift;
  }
  return {static_cast<int8_t>(shift), static_cast<uint32_t>((ns_per_s << 32) / rate32)};
}

}  // namespace

bool available() {
  return (boot_kvmclock_msr != 0 || g_tsc_rate_published) && guest_pvclock[this_cpu()].version != 0;
}

void publish_tsc_rate(uint64_t tsc_at_zero, uint64_t tsc_hz) {
  TimeScale scale = scale_to_ns(tsc_hz);
  for (auto& info : guest_pvclock) {
    info.tsc_timestamp = tsc_at_zero;
    info.system_time = 0;
    info.tsc_to_system_mul = scale.mul;
    info.tsc_shift = scale.shift;
    info.version = 2;  // even: not being updated
  }
  g_tsc_rate_published = true;
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
