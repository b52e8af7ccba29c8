#include "devices/net/announce.h"

#include <chrono>
#include <cstring>

namespace ferry {

std::array<uint8_t, kMinFrameSize> RarpAnnouncement(const MacAddress& mac) {
  std::array<uint8_t, kMinFrameSize> frame{};
  uint8_t* p = frame.data();
  std::memset(p, 0xff, 6);  // to everyone
  std::memcpy(p + 6, mac.data(), 6);
  p[12] = 0x80;  // EtherType RARP (0x8035)
  p[13] = 0x35;
  uint8_t* rarp = p + 14;
  rarp[0] = 0x00;  // hardware: Ethernet
  rarp[1] = 0x01;
  rarp[2] = 0x08;  // protocol: IPv4
  rarp[3] = 0x00;
  rarp[4] = 6;     // hardware address length
  rarp[5] = 4;     // protocol address length
  rarp[6] = 0x00;  // operation 3: reverse request
  rarp[7] = 0x03;
  std::memcpy(rarp + 8, mac.data(), 6);   // sender MAC; sender IP 0
  std::memcpy(rarp + 18, mac.data(), 6);  // target MAC; target IP 0
  return frame;                           // padded with zeros to the minimum
}

Announcer::Announcer(MacAddress mac, AnnounceSchedule schedule,
                     std::function<void(const uint8_t*, size_t)> send)
    : thread_([this, mac, schedule, send = std::move(send)] { Run(mac, schedule, send); }) {}

Announcer::~Announcer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Announcer::Run(MacAddress mac, AnnounceSchedule schedule,
                    std::function<void(const uint8_t*, size_t)> send) {
  std::array<uint8_t, kMinFrameSize> frame = RarpAnnouncement(mac);
  int gap_ms = schedule.first_gap_ms;
  for (int round = 0; round < schedule.rounds; ++round) {
    send(frame.data(), frame.size());
    if (round + 1 == schedule.rounds) break;
    std::unique_lock<std::mutex> lock(mu_);
    if (wake_.wait_for(lock, std::chrono::milliseconds(gap_ms), [this] { return stop_; })) return;
    gap_ms += schedule.step_ms;
  }
}

}  // namespace ferry
