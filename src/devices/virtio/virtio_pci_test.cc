#include "devices/virtio/virtio_pci.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "devices/virtio/rng.h"
#include "devices/virtio/test_driver.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

using testing::Buffer;
using testing::TestDriver;
using T = VirtioPciTransport;

class FakeInterrupts final : public InterruptSink {
 public:
  Status RouteVector(uint16_t index, uint64_t address, uint32_t) override {
    routed[index] = address;
    return OkStatus();
  }
  void FireVector(uint16_t index) override { ++fired[index]; }
  void SetIntx(bool asserted) override { intx = asserted; }
  std::atomic<int> fired[4] = {};
  uint64_t routed[4] = {};
  std::atomic<bool> intx{false};
};

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<GuestMemory> m = GuestMemory::Create(16 << 20);
    ASSERT_TRUE(m.ok());
    memory_.emplace(std::move(*m));
    driver_.emplace(*memory_, 8);
    Result<std::unique_ptr<T>> t = T::Create(rng_, *memory_, irq_, nullptr, 16, "rng");
    ASSERT_TRUE(t.ok());
    transport_ = std::move(*t);
    transport_->AssignBar(0, 0xc0000000);
  }

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
  uint64_t DeviceFeatures() {
    BarWrite<uint32_t>(0x00, 0);
    uint64_t low = BarRead<uint32_t>(0x04);
    BarWrite<uint32_t>(0x00, 1);
    return low | uint64_t{BarRead<uint32_t>(0x04)} << 32;
  }
  void SetDriverFeatures(uint64_t features) {
    BarWrite<uint32_t>(0x08, 0);
    BarWrite<uint32_t>(0x0c, static_cast<uint32_t>(features));
    BarWrite<uint32_t>(0x08, 1);
    BarWrite<uint32_t>(0x0c, static_cast<uint32_t>(features >> 32));
  }
  // The Linux driver's sequence, with MSI-X vector 0 for the queue.
  void Initialize(bool msix) {
    BarWrite<uint8_t>(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver);
    SetDriverFeatures(virtio::Bit(virtio::kFeatureVersion1) |
                      virtio::Bit(virtio::kFeatureEventIdx));
    BarWrite<uint8_t>(
        0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    ASSERT_TRUE(BarRead<uint8_t>(0x14) & virtio::kStatusFeaturesOk);
    if (msix) EnableMsix();
    QueueState q = driver_->Layout();
    BarWrite<uint16_t>(0x16, 0);
    BarWrite<uint16_t>(0x18, q.size);
    BarWrite<uint16_t>(0x1a, msix ? 0 : virtio::kNoVector);
    BarWrite<uint64_t>(0x20, q.desc_addr);
    BarWrite<uint64_t>(0x28, q.avail_addr);
    BarWrite<uint64_t>(0x30, q.used_addr);
    BarWrite<uint16_t>(0x1c, 1);
    BarWrite<uint8_t>(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver |
                                virtio::kStatusFeaturesOk | virtio::kStatusDriverOk);
    transport_->Resume();
  }
  void EnableMsix() {
    // Find the MSI-X capability and set its enable bit, then unmask vector 0.
    uint8_t cap = 0;
    transport_->ConfigRead(pci::kCapabilityPointer, {&cap, 1});
    while (cap != 0) {
      uint8_t id[2];
      transport_->ConfigRead(cap, id);
      if (id[0] == pci::kCapMsix) break;
      cap = id[1];
    }
    ASSERT_NE(cap, 0);
    msix_cap_ = cap;
    SetMsixControl(Msix::kControlEnable);
    uint32_t entry[4] = {0xfee00000, 0, 0x41, 0};
    transport_->bar().Write(T::kMsixTableOffset, {reinterpret_cast<uint8_t*>(entry), 16});
  }
  void SetMsixControl(uint16_t control) {
    transport_->ConfigWrite(msix_cap_ + 2, {reinterpret_cast<uint8_t*>(&control), 2});
  }
  uint16_t SubmitAndNotify() {
    std::vector<Buffer> b = {{64, true}};
    uint16_t head = driver_->AddChain(b);
    driver_->Publish(head);
    BarWrite<uint16_t>(T::kNotifyOffset, 0);  // the userspace notify path
    return head;
  }
  bool WaitForUsed(uint16_t idx) {
    for (int i = 0; i < 200; ++i) {
      if (driver_->UsedIdx() == idx) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  std::optional<GuestMemory> memory_;
  std::optional<TestDriver> driver_;
  VirtioRng rng_;
  FakeInterrupts irq_;
  std::unique_ptr<T> transport_;
  uint8_t msix_cap_ = 0;
};

TEST_F(TransportTest, IdentifiesAsModernVirtio) {
  uint32_t id = 0;
  transport_->ConfigRead(0, {reinterpret_cast<uint8_t*>(&id), 4});
  EXPECT_EQ(id, 0x10441af4u);
  uint8_t revision = 0;
  transport_->ConfigRead(pci::kRevision, {&revision, 1});
  EXPECT_EQ(revision, 1);
  EXPECT_TRUE(DeviceFeatures() & virtio::Bit(virtio::kFeatureVersion1));
  EXPECT_EQ(BarRead<uint16_t>(0x12), 1);  // num_queues
}

TEST_F(TransportTest, FeaturesOkNeedsVersion1AndOfferedBits) {
  BarWrite<uint8_t>(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver);
  SetDriverFeatures(0);
  BarWrite<uint8_t>(0x14,
                    virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
  EXPECT_FALSE(BarRead<uint8_t>(0x14) & virtio::kStatusFeaturesOk);
  SetDriverFeatures(virtio::Bit(virtio::kFeatureVersion1) | virtio::Bit(50));
  BarWrite<uint8_t>(0x14,
                    virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
  EXPECT_FALSE(BarRead<uint8_t>(0x14) & virtio::kStatusFeaturesOk);
  // DRIVER_OK without FEATURES_OK does not stick either.
  BarWrite<uint8_t>(0x14, virtio::kStatusDriver | virtio::kStatusDriverOk);
  EXPECT_FALSE(BarRead<uint8_t>(0x14) & virtio::kStatusDriverOk);
}

TEST_F(TransportTest, ServesRequestsOffThreadAndSignalsMsix) {
  Initialize(true);
  EXPECT_EQ(irq_.routed[0], 0xfee00000u);
  SubmitAndNotify();
  ASSERT_TRUE(WaitForUsed(1));
  EXPECT_EQ(driver_->Used(0).second, 64u);
  for (int i = 0; i < 100 && irq_.fired[0] == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(irq_.fired[0], 1);
}

TEST_F(TransportTest, MaskedVectorIsPendingUntilUnmasked) {
  Initialize(true);
  SetMsixControl(Msix::kControlEnable | Msix::kControlFunctionMask);
  SubmitAndNotify();
  ASSERT_TRUE(WaitForUsed(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(irq_.fired[0], 0);
  EXPECT_EQ(BarRead<uint64_t>(T::kMsixPbaOffset) & 1, 1u);
  SetMsixControl(Msix::kControlEnable);
  EXPECT_EQ(irq_.fired[0], 1);
  EXPECT_EQ(BarRead<uint64_t>(T::kMsixPbaOffset) & 1, 0u);
}

TEST_F(TransportTest, IntxFollowsTheIsr) {
  Initialize(false);
  SubmitAndNotify();
  ASSERT_TRUE(WaitForUsed(1));
  for (int i = 0; i < 100 && !irq_.intx; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(irq_.intx);
  EXPECT_EQ(BarRead<uint8_t>(T::kIsrOffset), virtio::kIsrQueue);
  EXPECT_FALSE(irq_.intx);  // reading the ISR acknowledged it
  EXPECT_EQ(BarRead<uint8_t>(T::kIsrOffset), 0);
}

TEST_F(TransportTest, PauseQuiescesAndResumeCatchesUp) {
  Initialize(true);
  transport_->Pause();
  SubmitAndNotify();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(driver_->UsedIdx(), 0);  // nothing taken while paused
  transport_->Resume();
  EXPECT_TRUE(WaitForUsed(1));
}

TEST_F(TransportTest, MalformedRingNeedsResetAndResetClearsIt) {
  Initialize(true);
  driver_->SetAvailIdx(100);  // more buffers than the ring holds
  BarWrite<uint16_t>(T::kNotifyOffset, 0);
  for (int i = 0; i < 100 && !(transport_->status() & virtio::kStatusNeedsReset); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(transport_->status() & virtio::kStatusNeedsReset);
  EXPECT_EQ(irq_.fired[0] + irq_.fired[1], 0);  // no config vector was set
  BarWrite<uint8_t>(0x14, 0);
  EXPECT_EQ(BarRead<uint8_t>(0x14), 0);
  EXPECT_EQ(BarRead<uint64_t>(0x20), 0u);  // queue layout reset
}

TEST_F(TransportTest, SaveRestoreCarriesTheQueueOver) {
  Initialize(true);
  SubmitAndNotify();
  ASSERT_TRUE(WaitForUsed(1));
  transport_->Pause();
  VirtioPciState saved = transport_->Save();
  EXPECT_EQ(saved.queues[0].last_avail_idx, 1);
  EXPECT_EQ(saved.queues[0].used_idx, 1);
  EXPECT_TRUE(saved.status & virtio::kStatusDriverOk);

  // A new transport (as on the destination) continues where this one stopped.
  transport_.reset();
  FakeInterrupts irq2;
  VirtioRng rng2;
  Result<std::unique_ptr<T>> t = T::Create(rng2, *memory_, irq2, nullptr, 16, "rng");
  ASSERT_TRUE(t.ok());
  (*t)->AssignBar(0, 0xc0000000);
  ASSERT_TRUE((*t)->Restore(saved).ok());
  EXPECT_EQ(irq2.routed[0], 0xfee00000u);  // MSI-X routes programmed again
  transport_ = std::move(*t);
  transport_->Resume();
  SubmitAndNotify();
  EXPECT_TRUE(WaitForUsed(2));

  VirtioPciState wrong = saved;
  wrong.device_type = virtio::kDeviceBlock;
  EXPECT_FALSE(transport_->Restore(wrong).ok());
  wrong = saved;
  wrong.queues[0].desc_addr = 0xfff00000;  // outside RAM
  EXPECT_FALSE(transport_->Restore(wrong).ok());
  wrong = saved;
  wrong.config.bytes[pci::kBar0 + 3] = 0xd0;
  EXPECT_FALSE(transport_->Restore(wrong).ok());
}

}  // namespace
}  // namespace ferry
