#include <gtest/gtest.h>

#include <cstring>

#include "base/units.h"
#include "machine/acpi.h"
#include "machine/boot_loader.h"
#include "machine/layout.h"

namespace ferry {
namespace {

TEST(BuildE820, SmallGuestHasLowRamReservedBiosAndHighRam) {
  std::vector<E820Entry> map = BuildE820(256 * kMiB);
  ASSERT_EQ(map.size(), 3u);
  EXPECT_EQ(map[0].addr, 0u);
  EXPECT_EQ(map[0].size, layout::kEbdaStart);
  EXPECT_EQ(map[1].type, E820Type::kReserved);
  EXPECT_EQ(map[2].addr, layout::kHighMemory);
  EXPECT_EQ(map[2].addr + map[2].size, 256 * kMiB);
}

TEST(BuildE820, LargeGuestSkipsTheMmioHole) {
  std::vector<E820Entry> map = BuildE820(6 * kGiB);
  ASSERT_EQ(map.size(), 4u);
  EXPECT_EQ(map[2].addr + map[2].size, layout::kMmioHoleStart);
  EXPECT_EQ(map[3].addr, layout::kMmioHoleEnd);
  uint64_t ram = 0;
  for (const E820Entry& e : map) {
    if (e.type == E820Type::kRam) ram += e.size;
  }
  // Everything but the legacy BIOS area is usable.
  EXPECT_EQ(ram, 6 * kGiB - (layout::kHighMemory - layout::kEbdaStart));
}

uint8_t Sum(const uint8_t* p, size_t n) {
  uint8_t s = 0;
  for (size_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + p[i]);
  return s;
}

TEST(BuildAcpiTables, ChecksumsAndMadtEntriesAreRight) {
  std::vector<uint8_t> t = BuildAcpiTables(layout::kAcpiTables, 3);
  ASSERT_GE(t.size(), 36u);
  EXPECT_EQ(std::memcmp(t.data(), "RSD PTR ", 8), 0);
  EXPECT_EQ(Sum(t.data(), 20), 0);
  EXPECT_EQ(Sum(t.data(), 36), 0);
  uint64_t xsdt = 0;
  std::memcpy(&xsdt, &t[24], 8);
  size_t xsdt_off = xsdt - layout::kAcpiTables;
  uint32_t xsdt_len = 0;
  std::memcpy(&xsdt_len, &t[xsdt_off + 4], 4);
  EXPECT_EQ(Sum(&t[xsdt_off], xsdt_len), 0);
  uint64_t madt = 0;
  std::memcpy(&madt, &t[xsdt_off + 36], 8);
  size_t madt_off = madt - layout::kAcpiTables;
  EXPECT_EQ(std::memcmp(&t[madt_off], "APIC", 4), 0);
  uint32_t madt_len = 0;
  std::memcpy(&madt_len, &t[madt_off + 4], 4);
  EXPECT_EQ(madt_off + madt_len, t.size());
  EXPECT_EQ(Sum(&t[madt_off], madt_len), 0);
  int cpus = 0;
  for (size_t p = madt_off + 44; p < madt_off + madt_len; p += t[p + 1]) {
    if (t[p] == 0) {
      EXPECT_EQ(t[p + 3], cpus);  // APIC ids 0, 1, 2
      ++cpus;
    }
  }
  EXPECT_EQ(cpus, 3);
}

TEST(StartInfo, MatchesXensLayout) {
  EXPECT_EQ(offsetof(HvmStartInfo, cmdline_paddr), 24u);
  EXPECT_EQ(offsetof(HvmStartInfo, rsdp_paddr), 32u);
  EXPECT_EQ(offsetof(HvmStartInfo, memmap_paddr), 40u);
  EXPECT_EQ(offsetof(HvmStartInfo, memmap_entries), 48u);
}

}  // namespace
}  // namespace ferry
