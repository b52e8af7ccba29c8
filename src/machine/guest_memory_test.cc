#include "machine/guest_memory.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>

namespace ferry {
namespace {

std::string ThpMode() {
  std::ifstream in("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string line;
  std::getline(in, line);
  return line;
}

// The smaps block of the mapping that starts at `start`.
std::string SmapsOf(const void* start) {
  char prefix[32];
  std::snprintf(prefix, sizeof prefix, "%lx-", reinterpret_cast<unsigned long>(start));
  std::ifstream in("/proc/self/smaps");
  std::string line, block;
  bool inside = false;
  while (std::getline(in, line)) {
    bool header = line.find('-') != std::string::npos && line.find(' ') > line.find('-') &&
                  std::isxdigit(static_cast<unsigned char>(line[0]));
    if (header) {
      if (inside) break;
      inside = line.rfind(prefix, 0) == 0;
    }
    if (inside) block += line + "\n";
  }
  return block;
}

TEST(GuestMemory, RamIsEligibleForTransparentHugePages) {
  if (ThpMode().find("[never]") != std::string::npos || ThpMode().empty()) {
    GTEST_SKIP() << "transparent huge pages are off on this host";
  }
  Result<GuestMemory> memory = GuestMemory::Create(64 << 20);
  ASSERT_TRUE(memory.ok()) << memory.error().message();
  std::string smaps = SmapsOf(memory->host_base());
  ASSERT_FALSE(smaps.empty()) << "guest RAM not found in /proc/self/smaps";
  size_t eligible = smaps.find("THPeligible:");
  ASSERT_NE(eligible, std::string::npos) << smaps;
  size_t value = smaps.find_first_not_of(' ', eligible + 12);
  EXPECT_EQ(smaps.substr(value, 1), "1") << smaps;
  EXPECT_NE(smaps.find(" hg"), std::string::npos) << smaps;  // VmFlags: MADV_HUGEPAGE
}

}  // namespace
}  // namespace ferry
