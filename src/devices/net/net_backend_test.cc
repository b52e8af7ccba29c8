#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>

#include "devices/net/announce.h"
#include "devices/net/mac_address.h"
#include "devices/net/tap.h"

namespace ferry {
namespace {

TEST(MacAddress, ParsesFormatsAndRefusesMulticast) {
  Result<MacAddress> mac = ParseMac("52:54:00:ab:CD:0f");
  ASSERT_TRUE(mac.ok());
  EXPECT_EQ(FormatMac(*mac), "52:54:00:ab:cd:0f");
  EXPECT_FALSE(ParseMac("52:54:00:ab:cd").ok());
  EXPECT_FALSE(ParseMac("52:54:00:ab:cd:0f:11").ok());
  EXPECT_FALSE(ParseMac("zz:54:00:ab:cd:0f").ok());
  Result<MacAddress> multicast = ParseMac("01:00:5e:00:00:01");
  ASSERT_FALSE(multicast.ok());
  EXPECT_NE(multicast.error().message().find("multicast"), std::string::npos);
  MacAddress random = RandomLocalMac();
  EXPECT_EQ(random[0], 0x52);
  EXPECT_EQ(random[0] & 1, 0);
}

TEST(Announce, RarpFrameNamesTheMacAsSource) {
  MacAddress mac = {0x52, 0x54, 0x00, 1, 2, 3};
  auto frame = RarpAnnouncement(mac);
  EXPECT_EQ(frame.size(), 60u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(frame[i], 0xff);
  EXPECT_EQ(std::memcmp(frame.data() + 6, mac.data(), 6), 0);
  EXPECT_EQ(frame[12], 0x80);
  EXPECT_EQ(frame[13], 0x35);
  EXPECT_EQ(frame[21], 3);  // reverse request
  EXPECT_EQ(std::memcmp(frame.data() + 22, mac.data(), 6), 0);
  EXPECT_EQ(std::memcmp(frame.data() + 32, mac.data(), 6), 0);
}

TEST(Announce, SendsEveryRoundWithGrowingGaps) {
  std::atomic<int> sent{0};
  auto start = std::chrono::steady_clock::now();
  {
    Announcer announcer({0x52, 0x54, 0, 0, 0, 1}, {3, 10, 10}, [&](const uint8_t*, size_t size) {
      EXPECT_EQ(size, 60u);
      ++sent;
    });
    while (sent.load() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(sent.load(), 3);
  EXPECT_GE(took, std::chrono::milliseconds(30));  // gaps of 10 and 20 ms
}

TEST(Announce, StopsEarlyWhenDestroyed) {
  std::atomic<int> sent{0};
  {
    Announcer announcer({0x52, 0x54, 0, 0, 0, 1}, {5, 10'000, 0},
                        [&](const uint8_t*, size_t) { ++sent; });
    while (sent.load() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(sent.load(), 1);
}

TEST(Tap, RefusesBadNames) {
  EXPECT_FALSE(Tap::Open("").ok());
  EXPECT_FALSE(Tap::Open("a-name-that-is-far-too-long").ok());
}

}  // namespace
}  // namespace ferry
