// After a migration the switches between the hosts still send the guest's
// traffic to the old port. The destination therefore announces the guest's
// MAC on its TAP, as QEMU's self-announce does: a RARP broadcast with the MAC
// as source, several times with growing gaps, so that every bridge on the way
// learns the new port at once even if the first frame is lost.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "devices/net/mac_address.h"

namespace ferry {

inline constexpr size_t kMinFrameSize = 60;  // Ethernet minimum without the FCS

std::array<uint8_t, kMinFrameSize> RarpAnnouncement(const MacAddress& mac);

struct AnnounceSchedule {
  int rounds = 5;
  int first_gap_ms = 50;  // then each gap grows by `step_ms`
  int step_ms = 100;
};

// Sends the announcement `rounds` times on its own thread; destroying it
// stops early. `send` gets each frame (without a virtio-net header).
class Announcer {
 public:
  Announcer(MacAddress mac, AnnounceSchedule schedule,
            std::function<void(const uint8_t*, size_t)> send);
  ~Announcer();
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

 private:
  void Run(MacAddress mac, AnnounceSchedule schedule,
           std::function<void(const uint8_t*, size_t)> send);

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry
