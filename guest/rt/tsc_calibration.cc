#include "rt/tsc_calibration.h"

#include "rt/kvmclock.h"
#include "rt/x86.h"

namespace guest::clock {
namespace {

constexpr uint64_t kPitHz = 1193182;
constexpr uint16_t kPitChannel0 = 0x40;
constexpr uint16_t kPitCommand = 0x43;
// Channel 0, low byte then high byte, mode 2 (rate generator), binary. The guest never
// takes interrupts, so the IRQ 0 this raises goes nowhere.
constexpr uint8_t kChannel0Mode2 = 0x34;
constexpr uint8_t kLatchChannel0 = 0x00;
// 20 ms of PIT ticks: one tick is 838 ns, so the rate is good to about 0.01 %.
constexpr uint64_t kTicksToMeasure = kPitHz / 50;
// A PIT that never moves (none there, or reads as 0xffff) must not hang the boot.
constexpr uint64_t kGiveUpAfterTscCycles = 1ull << 33;

uint16_t read_channel0() {
  x86::outb(kPitCommand, kLatchChannel0);
  uint8_t low = x86::inb(kPitChannel0);
  uint8_t high = x86::inb(kPitChannel0);
  return static_cast<uint16_t>(low | (high << 8));
}

}  // namespace

uint64_t calibrate_tsc_against_pit() {
  x86::outb(kPitCommand, kChannel0Mode2);
  x86::outb(kPitChannel0, 0);  // reload value 0 means 65536: the count wraps every 55 ms
  x86::outb(kPitChannel0, 0);

  uint16_t previous = read_channel0();
  uint64_t start = x86::rdtsc_ordered();
  uint64_t ticks = 0;
  uint64_t now = start;
  while (ticks < kTicksToMeasure) {
    uint16_t current = read_channel0();
    // The counter counts down and wraps at 65536; reads come far more often than that.
    ticks += static_cast<uint16_t>(previous - current);
    previous = current;
    now = x86::rdtsc_ordered();
    if (now - start > kGiveUpAfterTscCycles) return 0;
  }
  uint64_t tsc_hz =
      static_cast<uint64_t>(static_cast<unsigned __int128>(now - start) * kPitHz / ticks);
  if (tsc_hz == 0) return 0;
  publish_tsc_rate(start, tsc_hz);
  return tsc_hz;
}

}  // namespace guest::clock
