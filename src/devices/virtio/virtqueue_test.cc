#include "devices/virtio/virtqueue.h"

#include <gtest/gtest.h>

#include "devices/virtio/test_driver.h"

namespace ferry {
namespace {

using testing::Buffer;
using testing::TestDriver;

class VirtqueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<GuestMemory> m = GuestMemory::Create(16 << 20);
    ASSERT_TRUE(m.ok());
    memory_.emplace(std::move(*m));
    driver_.emplace(*memory_, 8);
    queue_.state() = driver_->Layout();
    ASSERT_TRUE(queue_.Validate(*memory_).ok());
  }
  std::optional<GuestMemory> memory_;
  std::optional<TestDriver> driver_;
  Virtqueue queue_{8};
};

TEST_F(VirtqueueTest, EmptyRingPopsNothing) {
  Result<std::optional<DescriptorChain>> r = queue_.Pop(*memory_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST_F(VirtqueueTest, DirectChainSplitsReadableAndWritable) {
  std::vector<Buffer> b = {{16, false}, {512, false}, {1, true}};
  driver_->Publish(driver_->AddChain(b));
  auto r = queue_.Pop(*memory_);
  ASSERT_TRUE(r.ok() && r->has_value());
  const DescriptorChain& c = **r;
  EXPECT_EQ(c.readable.size(), 2u);
  EXPECT_EQ(c.readable_bytes, 528u);
  ASSERT_EQ(c.writable.size(), 1u);
  EXPECT_EQ(c.writable[0].gpa, b[2].gpa);
  ASSERT_TRUE(queue_.PushUsed(*memory_, c.head, 1).ok());
  EXPECT_EQ(driver_->UsedIdx(), 1);
  EXPECT_EQ(driver_->Used(0), std::make_pair(uint32_t{c.head}, 1u));
}

TEST_F(VirtqueueTest, IndirectChain) {
  std::vector<Buffer> b = {{16, false}, {4096, true}, {1, true}};
  driver_->Publish(driver_->AddIndirect(b));
  auto r = queue_.Pop(*memory_);
  ASSERT_TRUE(r.ok() && r->has_value()) << (r.ok() ? "" : r.error().message());
  EXPECT_EQ((*r)->readable.size(), 1u);
  EXPECT_EQ((*r)->writable.size(), 2u);
  EXPECT_EQ((*r)->writable_bytes, 4097u);
}

TEST_F(VirtqueueTest, DescriptorLoopIsAnErrorNotAHang) {
  uint64_t buf = driver_->Alloc(64);
  driver_->SetDesc(TestDriver::kRingBase, 0, buf, 64, virtio::kDescNext, 1);
  driver_->SetDesc(TestDriver::kRingBase, 1, buf, 64, virtio::kDescNext, 0);
  driver_->Publish(0);
  auto r = queue_.Pop(*memory_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("loops"), std::string::npos);
}

TEST_F(VirtqueueTest, HostileDescriptorsAreRefused) {
  // A buffer outside RAM, an index past the table, a readable after a
  // writable buffer, nested indirect tables, INDIRECT with NEXT.
  uint64_t buf = driver_->Alloc(64);
  uint64_t t = TestDriver::kRingBase;
  struct Case {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
  };
  for (const Case& bad :
       {Case{0xfff00000, 64, 0, 0}, Case{buf, 64, virtio::kDescNext, 99},
        Case{buf, 0xffffffff, 0, 0}, Case{buf, 32, virtio::kDescIndirect | virtio::kDescNext, 0},
        Case{buf, 24, virtio::kDescIndirect, 0}}) {
    Virtqueue q(8);
    q.state() = driver_->Layout();
    driver_->SetDesc(t, 0, bad.addr, bad.len, bad.flags, bad.next);
    driver_->SetAvailIdx(0);
    driver_->Publish(0);
    EXPECT_FALSE(q.Pop(*memory_).ok()) << std::hex << bad.addr << " " << bad.flags;
  }
  // Readable after writable.
  Virtqueue q(8);
  q.state() = driver_->Layout();
  driver_->SetDesc(t, 0, buf, 8, virtio::kDescWrite | virtio::kDescNext, 1);
  driver_->SetDesc(t, 1, buf, 8, 0, 0);
  driver_->SetAvailIdx(0);
  driver_->Publish(0);
  EXPECT_FALSE(q.Pop(*memory_).ok());
  // A nested indirect table.
  uint64_t inner = driver_->Alloc(16);
  driver_->SetDesc(inner, 0, buf, 16, virtio::kDescIndirect, 0);
  Virtqueue q2(8);
  q2.state() = driver_->Layout();
  driver_->SetDesc(t, 0, inner, 16, virtio::kDescIndirect, 0);
  driver_->SetAvailIdx(0);
  driver_->Publish(0);
  EXPECT_FALSE(q2.Pop(*memory_).ok());
}

TEST_F(VirtqueueTest, AvailIndexRunningAheadIsRefused) {
  driver_->SetAvailIdx(9);  // more than 8 entries
  EXPECT_FALSE(queue_.Pop(*memory_).ok());
}

TEST_F(VirtqueueTest, RingsOutsideRamFailValidation) {
  Virtqueue q(8);
  q.state() = driver_->Layout();
  q.state().used_addr = (16 << 20) - 8;
  EXPECT_FALSE(q.Validate(*memory_).ok());
  q.state() = driver_->Layout();
  q.state().size = 6;  // not a power of two
  EXPECT_FALSE(q.Validate(*memory_).ok());
  q.state() = driver_->Layout();
  q.state().desc_addr += 8;  // misaligned
  EXPECT_FALSE(q.Validate(*memory_).ok());
}

TEST_F(VirtqueueTest, EventIdxSuppressesInterrupts) {
  queue_.set_event_idx(true);
  std::vector<Buffer> b = {{1, true}};
  for (int i = 0; i < 3; ++i) {
    std::vector<Buffer> c = b;
    driver_->Publish(driver_->AddChain(c));
  }
  driver_->SetUsedEvent(1);  // interrupt me once used_idx passes 1
  auto pop_push = [&] {
    auto r = queue_.Pop(*memory_);
    ASSERT_TRUE(r.ok() && r->has_value());
    ASSERT_TRUE(queue_.PushUsed(*memory_, (*r)->head, 1).ok());
  };
  pop_push();
  EXPECT_TRUE(*queue_.ShouldNotify(*memory_));  // first decision always notifies
  pop_push();                                   // used_idx 2: event 1 in (1, 2]
  EXPECT_TRUE(*queue_.ShouldNotify(*memory_));
  pop_push();  // used_idx 3: event 1 not in (2, 3]
  EXPECT_FALSE(*queue_.ShouldNotify(*memory_));
  // Once drained, the device asks to be notified at the next new buffer.
  EXPECT_FALSE(*queue_.ArmNotification(*memory_));
  EXPECT_EQ(driver_->AvailEvent(), 3);
}

TEST_F(VirtqueueTest, NoInterruptFlagWithoutEventIdx) {
  std::vector<Buffer> b = {{1, true}};
  driver_->Publish(driver_->AddChain(b));
  auto r = queue_.Pop(*memory_);
  ASSERT_TRUE(r.ok() && r->has_value());
  ASSERT_TRUE(queue_.PushUsed(*memory_, (*r)->head, 1).ok());
  driver_->SetAvailFlags(virtio::kAvailNoInterrupt);
  EXPECT_FALSE(*queue_.ShouldNotify(*memory_));
  driver_->SetAvailFlags(0);
  EXPECT_TRUE(*queue_.ShouldNotify(*memory_));
}

TEST_F(VirtqueueTest, UsedRingWritesAreMarkedDirty) {
  memory_->vmm_dirty_log().Start();
  std::vector<Buffer> b = {{1, true}};
  driver_->Publish(driver_->AddChain(b));
  uint64_t words[64] = {};
  memory_->vmm_dirty_log().TakeInto(words, 64);  // forget the driver's own writes
  auto r = queue_.Pop(*memory_);
  ASSERT_TRUE(queue_.PushUsed(*memory_, (*r)->head, 1).ok());
  std::fill(std::begin(words), std::end(words), 0);
  memory_->vmm_dirty_log().TakeInto(words, 64);
  uint64_t used_page = driver_->Layout().used_addr / 4096;
  EXPECT_TRUE(words[used_page / 64] >> (used_page % 64) & 1);
  memory_->vmm_dirty_log().Stop();
}

}  // namespace
}  // namespace ferry
