#include "machine/io_bus.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

class Recorder final : public IoDevice {
 public:
  void Read(uint64_t offset, std::span<uint8_t> data) override {
    for (uint8_t& b : data) b = static_cast<uint8_t>(offset);
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    last_offset = offset;
    last_value = data[0];
  }
  uint64_t last_offset = 99;
  uint8_t last_value = 0;
};

TEST(IoBus, RoutesByRangeWithRelativeOffsets) {
  IoBus bus("test");
  Recorder a, b;
  ASSERT_TRUE(bus.Register(0x3f8, 8, &a, "a").ok());
  ASSERT_TRUE(bus.Register(0xf4, 4, &b, "b").ok());
  uint8_t v = 0x42;
  EXPECT_TRUE(bus.Write(0x3fd, {&v, 1}));
  EXPECT_EQ(a.last_offset, 5u);
  EXPECT_EQ(a.last_value, 0x42);
  uint8_t r[2];
  EXPECT_TRUE(bus.Read(0xf6, r));
  EXPECT_EQ(r[0], 2);
}

TEST(IoBus, UnclaimedReadsSeeAllOnes) {
  IoBus bus("test");
  uint8_t r[4] = {0, 0, 0, 0};
  EXPECT_FALSE(bus.Read(0x80, r));
  EXPECT_EQ(r[3], 0xff);
}

TEST(IoBus, RefusesOverlaps) {
  IoBus bus("test");
  Recorder a, b;
  ASSERT_TRUE(bus.Register(0x100, 0x10, &a, "a").ok());
  EXPECT_FALSE(bus.Register(0x10f, 1, &b, "b").ok());
  EXPECT_FALSE(bus.Register(0xf0, 0x11, &b, "b").ok());
  EXPECT_TRUE(bus.Register(0x110, 1, &b, "b").ok());
}

}  // namespace
}  // namespace ferry
