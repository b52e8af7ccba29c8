// virtio-net driver (spec 5.1), polled: receive queue 0 kept full of buffers, transmit
// queue 1 fed from a pool of buffers reclaimed as the device returns them.
//
// Every buffer holds the 12-byte struct virtio_net_hdr (VERSION_1 always has
// num_buffers) followed by the frame, in one descriptor. No offloads are negotiated
// (no CSUM, GSO or MRG_RXBUF), so the header we send is all zeros and a received frame
// fits one 2 KiB buffer (12 + 1514 bytes). The MAC comes from the device configuration
// when VIRTIO_NET_F_MAC is offered; otherwise the locally administered 02:00:00:00:00:01.
//
// When the device offers VIRTIO_NET_F_GUEST_ANNOUNCE (with CTRL_VQ and STATUS), the driver
// takes it and sets up control queue 2: after a migration the device sets
// VIRTIO_NET_S_ANNOUNCE in its status, the workload announces its addresses and the
// driver acknowledges with VIRTIO_NET_CTRL_ANNOUNCE_ACK (spec 5.1.6.5.4). Polled like the
// rest: the workload reads the status now and then (announce_requested()).
#pragma once

#include <stdint.h>

#include "rt/virtio.h"
#include "rt/virtqueue.h"

namespace guest::virtio {

class NetDevice {
 public:
  static constexpr uint32_t kHeaderSize = 12;
  static constexpr uint32_t kBufferSize = 2048;
  static constexpr uint32_t kMaxFrame = kBufferSize - kHeaderSize;
  static constexpr int kMaxBuffers = 256;

  // Negotiates, fills the receive queue and sets DRIVER_OK. Exits loudly on failure.
  void open(Transport& t);

  const uint8_t* mac() const { return mac_; }
  bool mac_from_device() const { return mac_from_device_; }
  bool guest_announce() const { return ctrl_buffer_ != nullptr; }
  // The device asks the guest to announce itself (one configuration read: an exit).
  bool announce_requested();
  // Tells the device the announcement went out; false when it answered VIRTIO_NET_ERR.
  bool ack_announce();
  Transport& transport() { return *transport_; }

  // The next received frame (after the header), if any; it stays valid until recycle().
  bool receive(const uint8_t** frame, uint32_t* length, int* buffer);
  // Gives a received buffer back to the device (visible at the next flush()).
  void recycle(int buffer);

  // A free transmit buffer's frame area (kMaxFrame bytes), reclaiming buffers the
  // device is done with; nullptr when all are still in flight.
  uint8_t* tx_frame();
  // Queues the frame last returned by tx_frame() (visible at the next flush()).
  void send(uint32_t length);
  // Publishes queued receive buffers and frames and notifies the device as needed.
  void flush();

  uint64_t rx_frames() const { return rx_frames_; }
  uint64_t tx_frames() const { return tx_frames_; }
  uint64_t rx_dropped() const { return rx_dropped_; }
  const Virtqueue& rx_queue() const { return rx_; }
  const Virtqueue& tx_queue() const { return tx_; }

 private:
  void post_rx(int buffer);
  void reclaim_tx();

  Transport* transport_ = nullptr;
  uint64_t features_ = 0;
  uint8_t mac_[6] = {0x02, 0, 0, 0, 0, 0x01};
  bool mac_from_device_ = false;
  Virtqueue rx_;
  Virtqueue tx_;
  Virtqueue ctrl_;
  uint8_t* ctrl_buffer_ = nullptr;  // command (2 bytes) then ack (1 byte)
  uint8_t* rx_buffers_ = nullptr;
  uint8_t* tx_buffers_ = nullptr;
  int tx_free_[kMaxBuffers] = {};
  int tx_free_count_ = 0;
  int tx_current_ = -1;
  uint64_t rx_frames_ = 0;
  uint64_t tx_frames_ = 0;
  uint64_t rx_dropped_ = 0;
};

}  // namespace guest::virtio
