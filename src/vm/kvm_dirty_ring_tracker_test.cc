#include "vm/kvm_dirty_ring_tracker.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ParseDirtyTracking, NamesAndRingSizes) {
  EXPECT_FALSE(ParseDirtyTracking("log")->ring());
  EXPECT_TRUE(ParseDirtyTracking("ring")->ring());
  EXPECT_EQ(ParseDirtyTracking("ring")->ring_entries, 0u);  // the default size
  EXPECT_EQ(ParseDirtyTracking("ring:4096")->ring_entries, 4096u);
  EXPECT_STREQ(ParseDirtyTracking("ring:4096")->name(), "ring");
  for (const char* bad : {"", "bitmap", "ring:", "ring:100", "ring:128", "ring:x", "ring:3000"}) {
    EXPECT_FALSE(ParseDirtyTracking(bad).ok()) << bad;
  }
}

// Two slots around the 32-bit hole: slot 0 is RAM pages [0, 768), slot 1 is
// pages [768, 1024) of the RAM page index.
TEST(SlotPageMap, MapsSlotAndOffsetToTheRamPageIndex) {
  SlotPageMap map({0, 768}, {768, 256});
  EXPECT_EQ(map.PageOf(0, 0), 0u);
  EXPECT_EQ(map.PageOf(0, 767), 767u);
  EXPECT_EQ(map.PageOf(1, 0), 768u);
  EXPECT_EQ(map.PageOf(1, 255), 1023u);
  EXPECT_EQ(map.PageOf((1u << 16) | 1, 3), 771u);  // SMM address space: the same RAM
}

TEST(SlotPageMap, RejectsUnknownSlotsAndOffsetsPastTheSlot) {
  SlotPageMap map({0, 768}, {768, 256});
  EXPECT_FALSE(map.PageOf(0, 768).has_value());
  EXPECT_FALSE(map.PageOf(1, 256).has_value());
  EXPECT_FALSE(map.PageOf(2, 0).has_value());
}

}  // namespace
}  // namespace ferry
