// What the virtio workloads share: finding their device, claiming RAM, and CPU 0's
// heartbeat, which also runs while a driver waits for the device. These workloads run
// on CPU 0; the other CPUs return at once and idle.
#pragma once

#include <stdint.h>

#include "rt/args.h"
#include "rt/virtio.h"
#include "workloads/workload.h"

namespace guest {

// Rejects unknown options, checks kvmclock, prints the device inventory, claims the
// free RAM for the arena (rt/arena.h) and returns the index-th device of `type`. Exits with status
// 3 and
// "<workload>: error: no virtio-blk device found (index N, M present)" when it is missing.
virtio::Transport& open_virtio_device(const char* workload, Args& args, const Machine& machine,
                                      uint32_t type, int index);

// CPU 0's heartbeat ("hb cpu=0 seq=N t_us=T", rt/heartbeat.h), installed as the drivers'
// wait hook. period_ns 0: no beats, only the gap measurement.
void beat_start(uint64_t period_ns);
void beat_poll();
uint64_t beat_max_gap_ns();

// X.Y from a count of units over ns, scaled: value = count * scale / seconds.
const char* format_per_second(uint64_t count, uint64_t scale_num, uint64_t scale_den, uint64_t ns,
                              char (&buf)[24]);

}  // namespace guest
