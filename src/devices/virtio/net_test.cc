// virtio-net through the PCI transport on a real TAP (root): a packet socket
// bound to the TAP interface plays the network. Frames it sends arrive in the
// guest's receive buffers; frames the guest transmits reach it.
#include "devices/virtio/net.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>

#include "devices/virtio/test_driver.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

using testing::Buffer;
using testing::NoInterrupts;
using testing::TestDriver;
using T = VirtioPciTransport;
using namespace virtio_net;

constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental: no stack answers it
const MacAddress kMac = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc};

std::vector<uint8_t> Frame(size_t payload, uint8_t seed) {
  std::vector<uint8_t> f(14 + payload);
  std::memcpy(f.data(), kMac.data(), 6);
  const uint8_t src[6] = {0x02, 0, 0, 0, 0, 9};
  std::memcpy(f.data() + 6, src, 6);
  f[12] = kEtherType >> 8;
  f[13] = kEtherType & 0xff;
  for (size_t i = 0; i < payload; ++i) f[14 + i] = static_cast<uint8_t>(seed + i);
  return f;
}

class NetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || ::access("/dev/net/tun", R_OK | W_OK) != 0) {
      GTEST_SKIP() << "needs root and /dev/net/tun";
    }
    name_ = "fnt" + std::to_string(::getpid() % 100000);
    Result<Tap> tap = Tap::Open(name_);
    ASSERT_TRUE(tap.ok()) << tap.error().message();
    // No IPv6 chatter (router solicitations) on the test interface.
    std::ofstream("/proc/sys/net/ipv6/conf/" + name_ + "/disable_ipv6") << "1";
    int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, name_.c_str(), IFNAMSIZ - 1);
    ASSERT_EQ(::ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    ASSERT_EQ(::ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    ::close(s);
    packet_ = Fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType)));
    ASSERT_TRUE(packet_.valid());
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(kEtherType);
    addr.sll_ifindex = static_cast<int>(::if_nametoindex(name_.c_str()));
    ifindex_ = addr.sll_ifindex;
    ASSERT_EQ(::bind(packet_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

    Result<GuestMemory> m = GuestMemory::Create(16 << 20);
    ASSERT_TRUE(m.ok());
    memory_.emplace(std::move(*m));
    rx_.emplace(*memory_, 16, 0x100000, 0x200000);
    tx_.emplace(*memory_, 16, 0x180000, 0x600000);
    net_.emplace(std::move(*tap), kMac, true);
    Result<std::unique_ptr<T>> t = T::Create(*net_, *memory_, irq_, nullptr, 0, "net");
    ASSERT_TRUE(t.ok());
    transport_ = std::move(*t);
    transport_->AssignBar(0, 0xc0000000);
    Initialize(virtio::Bit(kFeatureMac));
  }
  void TearDown() override { transport_.reset(); }

  template <typename V>
  void BarWrite(uint64_t offset, V value) {
    transport_->bar().Write(offset, {reinterpret_cast<const uint8_t*>(&value), sizeof value});
  }
  template <typename V>
  V BarRead(uint64_t offset) {
    V value{};
    transport_->bar().Read(offset, {reinterpret_cast<uint8_t*>(&value), sizeof value});
    return value;
  }
  void Queue(uint16_t index, const QueueState& q) {
    BarWrite<uint16_t>(0x16, index);
    BarWrite<uint16_t>(0x18, q.size);
    BarWrite<uint64_t>(0x20, q.desc_addr);
    BarWrite<uint64_t>(0x28, q.avail_addr);
    BarWrite<uint64_t>(0x30, q.used_addr);
    BarWrite<uint16_t>(0x1c, 1);
  }
  // Negotiates VERSION_1, EVENT_IDX and `net_features`; the control queue is
  // set up when they include CTRL_VQ.
  void Initialize(uint64_t net_features) {
    uint8_t status = virtio::kStatusAcknowledge | virtio::kStatusDriver;
    BarWrite<uint8_t>(0x14, status);
    uint64_t features = virtio::Bit(virtio::kFeatureVersion1) |
                        virtio::Bit(virtio::kFeatureEventIdx) | net_features;
    BarWrite<uint32_t>(0x08, 0);
    BarWrite<uint32_t>(0x0c, static_cast<uint32_t>(features));
    BarWrite<uint32_t>(0x08, 1);
    BarWrite<uint32_t>(0x0c, static_cast<uint32_t>(features >> 32));
    status |= virtio::kStatusFeaturesOk;
    BarWrite<uint8_t>(0x14, status);
    Queue(kReceiveQueue, rx_->Layout());
    Queue(kTransmitQueue, tx_->Layout());
    if ((net_features & virtio::Bit(kFeatureControlQueue)) != 0) {
      ctrl_.emplace(*memory_, 16, 0x700000, 0x800000);
      Queue(kControlQueue, ctrl_->Layout());
    }
    BarWrite<uint8_t>(0x14, status | virtio::kStatusDriverOk);
    transport_->Resume();
  }
  void Notify(uint16_t queue) { BarWrite<uint16_t>(T::kNotifyOffset + 4 * queue, queue); }

  // Posts `count` receive chains of one writable buffer each.
  std::vector<uint64_t> PostReceive(int count, uint32_t len = 2048) {
    std::vector<uint64_t> at;
    for (int i = 0; i < count; ++i) {
      std::vector<Buffer> b = {{len, true}};
      rx_->Publish(rx_->AddChain(b));
      at.push_back(b[0].gpa);
    }
    Notify(kReceiveQueue);
    return at;
  }
  void Inject(const std::vector<uint8_t>& frame) {
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = ifindex_;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, kMac.data(), 6);
    ASSERT_EQ(::sendto(packet_.get(), frame.data(), frame.size(), 0,
                       reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(frame.size()));
  }
  static bool WaitFor(const std::function<bool()>& done) {
    for (int i = 0; i < 400; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  std::string name_;
  int ifindex_ = 0;
  Fd packet_;
  NoInterrupts irq_;
  std::optional<GuestMemory> memory_;
  std::optional<TestDriver> rx_, tx_, ctrl_;
  std::optional<VirtioNet> net_;
  std::unique_ptr<T> transport_;
};

TEST_F(NetTest, ConfigHoldsTheMacAndLinkUp) {
  uint8_t config[8];
  transport_->bar().Read(T::kDeviceOffset, config);
  EXPECT_EQ(std::memcmp(config, kMac.data(), 6), 0);
  EXPECT_EQ(config[6] | config[7] << 8, kLinkUp);
  EXPECT_EQ(net_->device_features(), virtio::Bit(kFeatureMac) | virtio::Bit(kFeatureStatus) |
                                         virtio::Bit(kFeatureControlQueue) |
                                         virtio::Bit(kFeatureGuestAnnounce));
}

uint16_t ConfigStatus(T& transport) {
  uint16_t status = 0;
  transport.bar().Read(T::kDeviceOffset + 6, {reinterpret_cast<uint8_t*>(&status), 2});
  return status;
}

// Sends one control command and returns the device's ack byte.
uint8_t SendControl(TestDriver& ctrl, T& transport, uint8_t cls, uint8_t cmd) {
  std::vector<Buffer> b = {{2, false}, {1, true}};
  uint16_t head = ctrl.AddChain(b);
  uint8_t command[2] = {cls, cmd};
  ctrl.Fill(b[0].gpa, command, 2);
  uint8_t poison = 0xee;
  ctrl.Fill(b[1].gpa, &poison, 1);
  uint16_t before = ctrl.UsedIdx();
  ctrl.Publish(head);
  uint16_t queue = kControlQueue;
  transport.bar().Write(T::kNotifyOffset + 4 * queue, {reinterpret_cast<uint8_t*>(&queue), 2});
  for (int i = 0; i < 400 && ctrl.UsedIdx() == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(ctrl.UsedIdx(), before + 1);
  EXPECT_EQ(ctrl.Used(before).second, 1u);
  return ctrl.Read(b[1].gpa, 1)[0];
}

TEST_F(NetTest, GuestAnnounceNeedsTheDriverToTakeIt) {
  // The fixture's driver took MAC only: no request, nothing changes.
  EXPECT_FALSE(net_->RequestGuestAnnounce(transport_->live_driver_features()));
  EXPECT_EQ(ConfigStatus(*transport_), kLinkUp);
}

TEST_F(NetTest, GuestAnnounceIsRequestedThenAcknowledgedOnTheControlQueue) {
  BarWrite<uint8_t>(0x14, 0);  // reset, then a driver that takes the announce features
  Initialize(virtio::Bit(kFeatureMac) | virtio::Bit(kFeatureStatus) |
             virtio::Bit(kFeatureControlQueue) | virtio::Bit(kFeatureGuestAnnounce));
  uint8_t generation = BarRead<uint8_t>(0x15);
  EXPECT_EQ(BarRead<uint8_t>(T::kIsrOffset), 0);

  ASSERT_TRUE(net_->RequestGuestAnnounce(transport_->live_driver_features()));
  transport_->NotifyConfigChange();
  EXPECT_EQ(ConfigStatus(*transport_), kLinkUp | kAnnounce);
  EXPECT_NE(BarRead<uint8_t>(0x15), generation);
  EXPECT_EQ(BarRead<uint8_t>(T::kIsrOffset), virtio::kIsrConfig);  // INTx: no MSI-X here

  // A command ferry does not know (RX mode) is refused and leaves the request.
  EXPECT_EQ(SendControl(*ctrl_, *transport_, 0, 0), kControlError);
  EXPECT_EQ(ConfigStatus(*transport_), kLinkUp | kAnnounce);
  // The announce acknowledgement clears it.
  EXPECT_EQ(SendControl(*ctrl_, *transport_, kControlAnnounceClass, kControlAnnounceAck),
            kControlOk);
  EXPECT_EQ(ConfigStatus(*transport_), kLinkUp);
  EXPECT_EQ(net_->guest_announces_acked(), 1u);

  // A pending request travels with the device state.
  ASSERT_TRUE(net_->RequestGuestAnnounce(transport_->live_driver_features()));
  NetState saved = net_->Save();
  EXPECT_EQ(saved.status, kLinkUp | kAnnounce);
  Result<Tap> tap2 = Tap::Open(name_ + "c");
  ASSERT_TRUE(tap2.ok());
  VirtioNet restored(std::move(*tap2), kMac, true);
  ASSERT_TRUE(restored.Restore(saved).ok());
  EXPECT_EQ(restored.Save().status, kLinkUp | kAnnounce);
}

TEST_F(NetTest, TransmitWritesTheChainToTheTap) {
  std::vector<uint8_t> frame = Frame(100, 7);
  // Header and frame in separate buffers, as Linux and the guest kit may do.
  std::vector<Buffer> b = {{12, false}, {static_cast<uint32_t>(frame.size()), false}};
  uint16_t head = tx_->AddChain(b);
  uint8_t header[12] = {};
  tx_->Fill(b[0].gpa, header, 12);
  tx_->Fill(b[1].gpa, frame.data(), frame.size());
  tx_->Publish(head);
  Notify(kTransmitQueue);
  ASSERT_TRUE(WaitFor([&] { return tx_->UsedIdx() == 1; }));
  EXPECT_EQ(tx_->Used(0), std::make_pair(uint32_t{head}, 0u));
  pollfd p = {packet_.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  uint8_t got[2048];
  ssize_t n = ::recv(packet_.get(), got, sizeof got, 0);
  ASSERT_EQ(n, static_cast<ssize_t>(frame.size()));
  EXPECT_EQ(std::memcmp(got, frame.data(), frame.size()), 0);
  EXPECT_EQ(net_->counters().tx_frames, 1u);
}

TEST_F(NetTest, ReceiveWaitsForFramesThenFillsBuffers) {
  std::vector<uint64_t> buffers = PostReceive(4);
  // No frame yet: the buffers stay with the device unused (none is popped).
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(rx_->UsedIdx(), 0);
  std::vector<uint8_t> frame = Frame(300, 1);
  Inject(frame);
  ASSERT_TRUE(WaitFor([&] { return rx_->UsedIdx() == 1; }));
  auto [head, len] = rx_->Used(0);
  EXPECT_EQ(head, 0u);
  EXPECT_EQ(len, 12 + frame.size());
  std::vector<uint8_t> got = rx_->Read(buffers[0], len);
  EXPECT_EQ(got[0], 0);                  // flags: no offloads
  EXPECT_EQ(got[10] | got[11] << 8, 1);  // num_buffers
  EXPECT_EQ(std::memcmp(got.data() + 12, frame.data(), frame.size()), 0);
  // The receive path marks what it wrote for migration.
  memory_->vmm_dirty_log().Start();
  Inject(Frame(60, 2));
  ASSERT_TRUE(WaitFor([&] { return rx_->UsedIdx() == 2; }));
  std::vector<uint64_t> words(memory_->vmm_dirty_log().pages() / 64 + 1);
  memory_->vmm_dirty_log().TakeInto(words.data(), words.size());
  uint64_t page = buffers[1] / 4096;
  EXPECT_TRUE(words[page / 64] >> (page % 64) & 1);
  memory_->vmm_dirty_log().Stop();
}

TEST_F(NetTest, FramesWaitInTheTapUntilBuffersCome) {
  for (uint8_t i = 0; i < 3; ++i) Inject(Frame(64 + i, i));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<uint64_t> buffers = PostReceive(2);
  ASSERT_TRUE(WaitFor([&] { return rx_->UsedIdx() == 2; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(rx_->UsedIdx(), 2);  // the third frame waits for a buffer
  PostReceive(1);
  ASSERT_TRUE(WaitFor([&] { return rx_->UsedIdx() == 3; }));
  for (uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rx_->Used(i).second, 12u + 14 + 64 + i) << i;  // in order
  }
  EXPECT_EQ(net_->counters().rx_frames, 3u);
}

TEST_F(NetTest, AFrameLargerThanTheBufferIsDropped) {
  PostReceive(1, 100);
  Inject(Frame(200, 3));
  ASSERT_TRUE(WaitFor([&] { return rx_->UsedIdx() == 1; }));
  EXPECT_EQ(rx_->Used(0).second, 0u);
  EXPECT_EQ(net_->counters().rx_dropped, 1u);
  // The next frame that fits still arrives.
  PostReceive(1, 100);
  Inject(Frame(20, 4));
  ASSERT_TRUE(WaitFor([&] { return rx_->UsedIdx() == 2; }));
  EXPECT_EQ(rx_->Used(1).second, 12u + 34);
}

TEST_F(NetTest, SaveAndRestoreKeepTheMac) {
  NetState saved = net_->Save();
  EXPECT_EQ(saved.mac, kMac);
  EXPECT_EQ(saved.status, kLinkUp);
  NetState other = saved;
  other.mac[5] = 0x01;
  // The user named this MAC; a snapshot with another one is refused.
  Result<Tap> tap2 = Tap::Open(name_ + "b");
  ASSERT_TRUE(tap2.ok());
  EXPECT_FALSE(net_->Restore(other).ok());
  VirtioNet generated(std::move(*tap2), RandomLocalMac(), false);
  ASSERT_TRUE(generated.Restore(other).ok());
  EXPECT_EQ(generated.mac(), other.mac);
  other.features |= uint64_t{1} << 15;  // MRG_RXBUF, which this ferry never offers
  EXPECT_FALSE(generated.Restore(other).ok());
}

}  // namespace
}  // namespace ferry
