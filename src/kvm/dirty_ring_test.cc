#include "kvm/dirty_ring.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace ferry {
namespace {

using Harvested = std::vector<std::pair<uint32_t, uint64_t>>;

// Plays KVM's side: publishes entries at its dirty index, and resets the
// entries the VMM handed back (what KVM_RESET_DIRTY_RINGS does).
struct FakeKvmRing {
  explicit FakeKvmRing(uint32_t size) : entries(size) {}
  bool Push(uint32_t slot, uint64_t offset) {
    kvm_dirty_gfn& e = entries[dirty_index % entries.size()];
    if (e.flags != 0) return false;  // full: not yet harvested and reset
    e.slot = slot;
    e.offset = offset;
    e.flags = KVM_DIRTY_GFN_F_DIRTY;
    ++dirty_index;
    return true;
  }
  uint32_t Reset() {
    uint32_t n = 0;
    while (entries[reset_index % entries.size()].flags & KVM_DIRTY_GFN_F_RESET) {
      entries[reset_index % entries.size()].flags = 0;
      ++reset_index;
      ++n;
    }
    return n;
  }
  std::vector<kvm_dirty_gfn> entries;
  uint32_t dirty_index = 0;
  uint32_t reset_index = 0;
};

Harvested HarvestAll(DirtyRingView& view) {
  Harvested out;
  view.Harvest([&](uint32_t slot, uint64_t offset) { out.emplace_back(slot, offset); });
  return out;
}

TEST(DirtyRingView, EmptyRingYieldsNothing) {
  FakeKvmRing kvm(8);
  DirtyRingView view(kvm.entries.data(), 8);
  EXPECT_TRUE(HarvestAll(view).empty());
  EXPECT_EQ(view.fetch_index(), 0u);
}

TEST(DirtyRingView, TakesPublishedEntriesInOrderAndHandsThemBack) {
  FakeKvmRing kvm(8);
  DirtyRingView view(kvm.entries.data(), 8);
  kvm.Push(0, 5);
  kvm.Push(1, 7);
  kvm.Push(0, 2);
  EXPECT_EQ(HarvestAll(view), (Harvested{{0, 5}, {1, 7}, {0, 2}}));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(kvm.entries[i].flags, uint32_t{KVM_DIRTY_GFN_F_RESET});
  EXPECT_EQ(kvm.Reset(), 3u);
  EXPECT_TRUE(HarvestAll(view).empty());  // nothing new
}

TEST(DirtyRingView, StopsAtTheFirstUnpublishedEntry) {
  FakeKvmRing kvm(8);
  DirtyRingView view(kvm.entries.data(), 8);
  kvm.Push(0, 1);
  kvm.entries[2].flags = KVM_DIRTY_GFN_F_DIRTY;  // a later slot is not the next one
  EXPECT_EQ(HarvestAll(view), (Harvested{{0, 1}}));
  EXPECT_EQ(view.fetch_index(), 1u);
}

TEST(DirtyRingView, WrapsAroundTheRingAcrossResets) {
  FakeKvmRing kvm(4);
  DirtyRingView view(kvm.entries.data(), 4);
  Harvested all;
  for (uint64_t page = 0; page < 23; ++page) {
    if (!kvm.Push(0, page)) {  // full: harvest, reset, push again (a ring-full exit)
      Harvested got = HarvestAll(view);
      all.insert(all.end(), got.begin(), got.end());
      kvm.Reset();
      ASSERT_TRUE(kvm.Push(0, page));
    }
  }
  Harvested got = HarvestAll(view);
  all.insert(all.end(), got.begin(), got.end());
  ASSERT_EQ(all.size(), 23u);
  for (uint64_t page = 0; page < 23; ++page) EXPECT_EQ(all[page].second, page);
  EXPECT_EQ(view.fetch_index(), 23u);
}

TEST(DirtyRingView, NeverTakesMoreThanTheRingHolds) {
  FakeKvmRing kvm(4);
  for (auto& e : kvm.entries) e.flags = KVM_DIRTY_GFN_F_DIRTY;  // a confused ring
  DirtyRingView view(kvm.entries.data(), 4);
  EXPECT_EQ(view.Harvest([](uint32_t, uint64_t) {}), 4u);
}

}  // namespace
}  // namespace ferry
