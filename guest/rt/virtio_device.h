// The device-independent part of driving a virtio device (spec 3.1, "Device
// Initialization"), and waiting for completions in a polling guest.
#pragma once

#include <stdint.h>

#include "rt/virtio.h"
#include "rt/virtqueue.h"

namespace guest::virtio {

// Reset, ACKNOWLEDGE, DRIVER, then the features both sides support (`supported` by the
// driver; VIRTIO_F_VERSION_1 is required and always asked for), FEATURES_OK and the
// check that the device kept it. Returns the negotiated features. Exits with status 3
// and a "<driver>: error:" line when the device is legacy-only or refuses.
uint64_t negotiate(Transport& t, uint64_t supported, const char* driver);

// Sets up queue q (see Virtqueue::setup); exits with status 3 when the device lacks it.
void setup_queue(Transport& t, Virtqueue& vq, uint16_t q, uint16_t wanted, uint64_t features,
                 const char* driver);

// DRIVER_OK: the device is live.
void driver_ok(Transport& t);

// Exits with status 1 and a "<driver>: FAIL reason=device_needs_reset|device_failed" line
// when the device has set DEVICE_NEEDS_RESET or FAILED (it gave up on us).
void check_device(Transport& t, const char* driver);

// Called over and over while a driver waits for a completion (the workload prints its
// heartbeats from it). nullptr: none.
void set_wait_hook(void (*hook)());

// Polls vq until a chain completes. Every 100 ms without one the device status is
// checked (check_device); after 30 s of kvmclock the guest fails with reason=timeout.
Used wait_used(Transport& t, Virtqueue& vq, const char* driver);

}  // namespace guest::virtio
