#include "devices/virtio/net.h"

#include <limits.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "devices/virtio/chain_io.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

using namespace virtio_net;

// struct virtio_net_hdr with VERSION_1 (5.1.6): num_buffers is always there.
struct NetHeader {
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
  uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == kVirtioNetHeaderSize);

// struct virtio_net_config up to the fields ferry offers (5.1.4).
struct __attribute__((packed)) NetConfig {
  uint8_t mac[6];
  uint16_t status;
  uint16_t max_virtqueue_pairs;
  uint16_t mtu;
};

}  // namespace

VirtioNet::VirtioNet(Tap tap, MacAddress mac, bool mac_given)
    : tap_(std::move(tap)), mac_(mac), mac_given_(mac_given) {}

VirtioNet::~VirtioNet() = default;

uint64_t VirtioNet::device_features() const {
  return virtio::Bit(kFeatureMac) | virtio::Bit(kFeatureStatus) |
         virtio::Bit(kFeatureControlQueue) | virtio::Bit(kFeatureGuestAnnounce);
}

void VirtioNet::ReadConfig(uint64_t offset, std::span<uint8_t> data) const {
  NetConfig c{};
  std::memcpy(c.mac, mac_.data(), 6);
  c.status = status_.load();
  c.max_virtqueue_pairs = 1;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&c);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < sizeof c ? bytes[offset + i] : 0;
  }
}

bool VirtioNet::HasWork(uint16_t queue) const {
  return queue != kReceiveQueue || rx_ready_.load();
}

NetCounters VirtioNet::counters() const {
  return {rx_frames_.load(), rx_dropped_.load(), tx_frames_.load(), tx_dropped_.load()};
}

Result<uint32_t> VirtioNet::HandleRequest(uint16_t queue, const DescriptorChain& chain,
                                          GuestMemory& memory) {
  if (queue == kTransmitQueue) return Transmit(chain, memory);
  if (queue == kControlQueue) return Control(chain, memory);
  return Receive(chain, memory);
}

// A command is class and command bytes plus its data, device-readable, then
// a device-writable ack byte (5.1.6.5), the first one written, as QEMU does. ferry knows only the
// announce acknowledgement; every other command is answered VIRTIO_NET_ERR, as the features it
// would belong to are never offered.
Result<uint32_t> VirtioNet::Control(const DescriptorChain& chain, GuestMemory& memory) {
  if (chain.readable_bytes < 2 || chain.writable_bytes < 1) return 0;
  uint8_t command[2] = {};
  RETURN_IF_ERROR(CopyFromGuest(memory, chain.readable, command));
  uint8_t ack = kControlError;
  if (command[0] == kControlAnnounceClass && command[1] == kControlAnnounceAck) {
    status_.fetch_and(static_cast<uint16_t>(~kAnnounce));
    ++announces_acked_;
    ack = kControlOk;
  }
  for (const GuestRange& r : SliceRanges(chain.writable, 0, 1)) {
    RETURN_IF_ERROR(memory.Write(r.gpa, {&ack, 1}));
  }
  return 1;
}

bool VirtioNet::RequestGuestAnnounce(uint64_t driver_features) {
  uint64_t needed = virtio::Bit(kFeatureGuestAnnounce) | virtio::Bit(kFeatureControlQueue);
  if ((driver_features & needed) != needed) return false;
  status_.fetch_or(kAnnounce);
  return true;
}

uint32_t VirtioNet::Transmit(const DescriptorChain& chain, const GuestMemory& memory) {
  // The header must come along: the TAP reads one from the front of every frame.
  Result<std::vector<iovec>> iov = ReadableIovecs(memory, chain.readable);
  if (chain.readable_bytes < kVirtioNetHeaderSize || !iov.ok() || iov->size() > IOV_MAX) {
    ++tx_dropped_;
    return 0;
  }
  // A TAP that cannot take the frame drops it (Tap::Send), like a wire.
  Status sent = tap_.Send(*iov);
  if (!sent.ok()) {
    ++tx_dropped_;
    return 0;
  }
  ++tx_frames_;
  return 0;  // transmit buffers are device-readable only
}

Result<uint32_t> VirtioNet::Receive(const DescriptorChain& chain, GuestMemory& memory) {
  if (chain.writable_bytes < kVirtioNetHeaderSize || chain.writable.size() >= IOV_MAX) {
    return 0;  // holds no header: the driver gets it back empty, the frame waits
  }
  // One byte past the chain tells a frame that did not fit (the TAP then
  // cuts it short) from one that filled the chain exactly.
  uint8_t past_end = 0;
  bool too_long = false;
  Result<size_t> got =
      memory.WriteWith(chain.writable, [&](std::span<const iovec> buffers) -> Result<size_t> {
        std::vector<iovec> iov(buffers.begin(), buffers.end());
        iov.push_back({&past_end, 1});
        ASSIGN_OR_RETURN(size_t n, tap_.Receive(iov));
        too_long = n > chain.writable_bytes;
        return too_long ? static_cast<size_t>(chain.writable_bytes) : n;
      });
  if (!got.ok()) {
    // The TAP failed (its interface went away): like a cut cable, not a
    // guest error; wait for the TAP's next edge.
    if (!rx_warned_.exchange(true)) {
      std::fprintf(stderr, "ferry: virtio-net on %s: %s\n", tap_.name().c_str(),
                   got.error().message().c_str());
    }
    rx_ready_.store(false);
    return kChainUnused;
  }
  if (*got == 0) {
    rx_ready_.store(false);  // drained; the TAP's next edge sets it again
    return kChainUnused;
  }
  if (too_long || *got < kVirtioNetHeaderSize) {
    ++rx_dropped_;  // a driver with buffers below 1526 bytes: the frame is lost
    return 0;
  }
  // The TAP fills in only the first 10 header bytes; without offloads the
  // guest must see no flags and no GSO, and one buffer (5.1.6.4.1).
  NetHeader header{};
  header.num_buffers = 1;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&header);
  size_t done = 0;
  for (const GuestRange& r : SliceRanges(chain.writable, 0, sizeof header)) {
    RETURN_IF_ERROR(memory.Write(r.gpa, {bytes + done, r.len}));
    done += r.len;
  }
  ++rx_frames_;
  return static_cast<uint32_t>(*got);
}

Status VirtioNet::Restore(const NetState& state) {
  if (mac_given_ && state.mac != mac_) {
    return Error(ErrorCode::kInvalidArgument,
                 "--net tap=" + tap_.name() + ",mac=" + FormatMac(mac_) +
                     ": the saved VM's NIC has MAC " + FormatMac(state.mac) +
                     " (the MAC travels with the VM: leave out mac=)");
  }
  if ((state.features & ~device_features()) != 0) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the saved VM's NIC offered features this ferry lacks (a newer ferry?)");
  }
  if ((state.status & ~(kLinkUp | kAnnounce)) != 0) {
    return Error(ErrorCode::kCorrupt, "virtio-net status has unknown bits");
  }
  mac_ = state.mac;
  status_.store(state.status);
  rx_ready_.store(true);
  return OkStatus();
}

void VirtioNet::Announce(AnnounceSchedule schedule) {
  announcer_.reset();
  int fd = tap_.fd();
  announcer_ = std::make_unique<Announcer>(mac_, schedule, [fd](const uint8_t* frame, size_t size) {
    NetHeader header{};
    iovec iov[2] = {{&header, sizeof header}, {const_cast<uint8_t*>(frame), size}};
    // Best effort, like any frame on the wire; later rounds cover a loss.
    ssize_t n = ::writev(fd, iov, 2);
    (void)n;
  });
}

}  // namespace ferry
