#include "workloads/virtio_common.h"

#include "rt/arena.h"
#include "rt/exit.h"
#include "rt/format.h"
#include "rt/heartbeat.h"
#include "rt/kvmclock.h"
#include "rt/virtio_device.h"
#include "rt/virtio_discover.h"

namespace guest {
namespace {

constinit Heartbeat g_beat{0, 0};

void wait_hook() {
  g_beat.poll(clock::now_ns());
}

}  // namespace

virtio::Transport& open_virtio_device(const char* workload, Args& args, const Machine& machine,
                                      uint32_t type, int index) {
  args.reject_unused();
  if (!clock::available()) fatal_for(workload, kExitInternal, "needs kvmclock");
  virtio::discover(args, machine.rsdp);
  char name[16];
  virtio::Transport* t = virtio::find(type, index);
  if (t == nullptr) {
    fatal_for(workload, kExitInternal, "no %s device found (index %d, %d present)",
              virtio::type_name(type, name), index, virtio::count(type));
  }
  arena::init(*machine.memory);
  return *t;
}

void beat_start(uint64_t period_ns) {
  g_beat = Heartbeat(0, period_ns);
  g_beat.start(clock::now_ns());
  virtio::set_wait_hook(wait_hook);
}

void beat_poll() {
  g_beat.poll(clock::now_ns());
}

uint64_t beat_max_gap_ns() {
  return g_beat.max_gap_ns();
}

const char* format_per_second(uint64_t count, uint64_t scale_num, uint64_t scale_den, uint64_t ns,
                              char (&buf)[24]) {
  uint64_t tenths = 0;
  if (ns != 0 && scale_den != 0) {
    tenths = static_cast<uint64_t>(static_cast<unsigned __int128>(count) * scale_num * 10 *
                                   1'000'000'000 / scale_den / ns);
  }
  snformat(buf, sizeof(buf), "%lu.%lu", tenths / 10, tenths % 10);
  return buf;
}

}  // namespace guest
