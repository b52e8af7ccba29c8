#include "rt/virtio_device.h"

#include "rt/console.h"
#include "rt/exit.h"
#include "rt/kvmclock.h"
#include "rt/x86.h"

namespace guest::virtio {
namespace {

constexpr uint64_t kStatusCheckNs = 100'000'000;
constexpr uint64_t kTimeoutNs = 30'000'000'000;

using WaitHook = void (*)();
constinit WaitHook g_wait_hook = nullptr;

}  // namespace

uint64_t negotiate(Transport& t, uint64_t supported, const char* driver) {
  t.reset();
  t.set_status(kStatusAcknowledge);
  t.set_status(kStatusAcknowledge | kStatusDriver);
  uint64_t offered = t.device_features();
  if ((offered & kFVersion1) == 0) {
    t.set_status(kStatusFailed);
    fatal_for(driver, kExitInternal, "%s does not offer VIRTIO_F_VERSION_1 (legacy device)",
              t.where());
  }
  uint64_t features = offered & (supported | kFVersion1);
  t.set_driver_features(features);
  t.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
  uint8_t status = t.status();
  if ((status & kStatusFeaturesOk) == 0) {
    t.set_status(kStatusFailed);
    fatal_for(driver, kExitInternal,
              "%s refused features 0x%lx (offered 0x%lx, status 0x%02x after FEATURES_OK)",
              t.where(), features, offered, status);
  }
  return features;
}

void setup_queue(Transport& t, Virtqueue& vq, uint16_t q, uint16_t wanted, uint64_t features,
                 const char* driver) {
  if (!vq.setup(t, q, wanted, (features & kFEventIdx) != 0)) {
    t.set_status(kStatusFailed);
    fatal_for(driver, kExitInternal, "%s has no queue %u", t.where(), q);
  }
}

void driver_ok(Transport& t) {
  t.set_status(kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk | kStatusDriverOk);
}

void check_device(Transport& t, const char* driver) {
  uint8_t status = t.status();
  if ((status & (kStatusNeedsReset | kStatusFailed)) == 0) return;
  console::print("%s: FAIL reason=%s where=%s status=0x%02x\n", driver,
                 (status & kStatusNeedsReset) ? "device_needs_reset" : "device_failed", t.where(),
                 status);
  exit_guest(kExitVerifyFailed);
}

void set_wait_hook(void (*hook)()) {
  g_wait_hook = hook;
}

Used wait_used(Transport& t, Virtqueue& vq, const char* driver) {
  Used used;
  uint64_t start = 0;
  uint64_t next_check = 0;
  for (uint32_t spins = 0;; ++spins) {
    if (vq.poll(&used)) return used;
    if (g_wait_hook != nullptr) g_wait_hook();
    x86::pause();
    if ((spins & 63) != 0) continue;
    uint64_t now = clock::now_ns();
    if (start == 0) {
      start = now;
      next_check = now + kStatusCheckNs;
    } else if (now >= next_check) {
      check_device(t, driver);
      next_check = now + kStatusCheckNs;
      if (now - start > kTimeoutNs) {
        console::print("%s: FAIL reason=timeout where=%s in_flight=%u waited_ms=%lu\n", driver,
                       t.where(), vq.in_flight(), (now - start) / 1'000'000);
        exit_guest(kExitVerifyFailed);
      }
    }
  }
}

}  // namespace guest::virtio
