// virtio-net (virtio 1.x, 5.1) on a TAP: receive queue 0, transmit queue 1,
// control queue 2; features MAC, STATUS (link always up), CTRL_VQ and
// GUEST_ANNOUNCE; no checksum or segmentation offloads, no mergeable receive
// buffers (docs/devices.md).
//
// Announcing after a move: the VMM sends RARP frames for the MAC on the TAP
// itself (Announce), and when the driver took GUEST_ANNOUNCE it also sets
// VIRTIO_NET_S_ANNOUNCE and raises a configuration change, so that the guest
// announces its own addresses (gratuitous ARP for its IPs, which only the
// guest knows) and acknowledges on the control queue (5.1.6.5.4).
//
// Transmit writes a chain's readable buffers (the 12-byte header first) to
// the TAP with one writev straight from guest memory. Receive is driven by
// the TAP: the worker watches it edge-triggered, HasWork(receive) is true
// only while frames may be waiting, and each frame is read with one readv
// straight into the chain's writable buffers. Frames that find no receive
// buffer stay queued in the TAP (bounded by the kernel), as with a real NIC.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "devices/net/announce.h"
#include "devices/net/mac_address.h"
#include "devices/net/tap.h"
#include "devices/virtio/virtio_device.h"

namespace ferry {

namespace virtio_net {
inline constexpr uint32_t kDeviceNet = 1;
inline constexpr int kFeatureMac = 5;
inline constexpr int kFeatureStatus = 16;
inline constexpr int kFeatureControlQueue = 17;
inline constexpr int kFeatureGuestAnnounce = 21;
inline constexpr uint16_t kLinkUp = 1;
inline constexpr uint16_t kAnnounce = 2;  // VIRTIO_NET_S_ANNOUNCE
inline constexpr uint16_t kReceiveQueue = 0;
inline constexpr uint16_t kTransmitQueue = 1;
inline constexpr uint16_t kControlQueue = 2;
// The control queue's commands (5.1.6.5) and acknowledgements.
inline constexpr uint8_t kControlAnnounceClass = 3;
inline constexpr uint8_t kControlAnnounceAck = 0;
inline constexpr uint8_t kControlOk = 0;
inline constexpr uint8_t kControlError = 1;
}  // namespace virtio_net

// `--net tap=NAME[,mac=MAC]`: without a MAC one is generated for the VM.
struct NetSpec {
  std::string tap;
  std::optional<MacAddress> mac;
};

// The device's own state (the transport's is VirtioPciState): the MAC the
// guest knows, the link status it sees and the features the device offered.
struct NetState {
  MacAddress mac{};
  uint16_t status = virtio_net::kLinkUp;
  uint64_t features = 0;
};

struct NetCounters {
  uint64_t rx_frames = 0;
  uint64_t rx_dropped = 0;  // did not fit the guest's buffer
  uint64_t tx_frames = 0;
  uint64_t tx_dropped = 0;  // malformed chains
};

class VirtioNet final : public VirtioDevice {
 public:
  // `mac_given`: the MAC was the user's choice, so a restore must not change it.
  VirtioNet(Tap tap, MacAddress mac, bool mac_given);
  ~VirtioNet() override;

  uint32_t device_type() const override { return virtio_net::kDeviceNet; }
  uint64_t device_features() const override;
  uint16_t num_queues() const override { return 3; }
  uint32_t pci_class() const override { return 0x020000; }  // Ethernet controller
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) const override;
  Result<uint32_t> HandleRequest(uint16_t queue, const DescriptorChain& chain,
                                 GuestMemory& memory) override;

  std::vector<int> device_fds() const override { return {tap_.fd()}; }
  void DeviceEvent(int) override { rx_ready_.store(true); }
  bool HasWork(uint16_t queue) const override;

  const MacAddress& mac() const { return mac_; }
  const Tap& tap() const { return tap_; }
  NetCounters counters() const;
  NetState Save() const { return {mac_, status_.load(), device_features()}; }
  Status Restore(const NetState& state);

  // Sends the RARP self-announcement on the TAP on a thread of its own
  // (schedule in announce.h); a later call or the device's end stops it.
  void Announce(AnnounceSchedule schedule = {});
  // Asks the guest to announce itself when `driver_features` include
  // GUEST_ANNOUNCE and CTRL_VQ: sets VIRTIO_NET_S_ANNOUNCE until the driver
  // acknowledges. True when it did; the transport must then signal a
  // configuration change.
  bool RequestGuestAnnounce(uint64_t driver_features);
  uint64_t guest_announces_acked() const { return announces_acked_.load(); }

 private:
  Result<uint32_t> Receive(const DescriptorChain& chain, GuestMemory& memory);
  uint32_t Transmit(const DescriptorChain& chain, const GuestMemory& memory);
  Result<uint32_t> Control(const DescriptorChain& chain, GuestMemory& memory);

  Tap tap_;
  MacAddress mac_;
  bool mac_given_;
  // Read by vCPUs (configuration), written by the worker (acknowledgements)
  // and by the VMM (announce requests).
  std::atomic<uint16_t> status_{virtio_net::kLinkUp};
  std::atomic<uint64_t> announces_acked_{0};
  // Frames may be waiting in the TAP: set by the TAP's edge, cleared when a
  // read finds it empty. Starts true so that a restored device looks once.
  std::atomic<bool> rx_ready_{true};
  std::atomic<bool> rx_warned_{false};
  std::atomic<uint64_t> rx_frames_{0}, rx_dropped_{0}, tx_frames_{0}, tx_dropped_{0};
  std::unique_ptr<Announcer> announcer_;
};

}  // namespace ferry
