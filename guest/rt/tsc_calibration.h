// A clock for hosts without kvmclock (QEMU's TCG, for one): the TSC, its rate measured
// against the 8254 PIT once at boot.
#pragma once

#include <stdint.h>

namespace guest::clock {

// Measures the TSC rate against PIT channel 0 and publishes it through the same
// per-CPU pvclock areas that kvmclock fills, so that now_ns() reads either one. Needs
// a TSC that runs at one rate on every CPU (TCG's follows the host's). Returns the rate
// in Hz, or 0 when the PIT does not count (then the clock stays unavailable).
uint64_t calibrate_tsc_against_pit();

}  // namespace guest::clock
