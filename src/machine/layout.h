// Where ferry puts things in guest-physical memory. Everything ferry writes
// for boot lives below 1 MiB; kernels load at or above 1 MiB.
#pragma once

#include <cstdint>
#include <vector>

namespace ferry {

namespace layout {
inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kBootGdt = 0x500;      // GDT for a 64-bit Linux entry
inline constexpr uint64_t kStartInfo = 0x6000;   // PVH hvm_start_info + memmap
inline constexpr uint64_t kBootParams = 0x7000;  // Linux zero page (bzImage boot)
inline constexpr uint64_t kPml4 = 0x9000;        // identity page tables (bzImage boot)
inline constexpr uint64_t kPdpt = 0xa000;
inline constexpr uint64_t kPd = 0xb000;  // four pages: 4 GiB in 2 MiB pages
inline constexpr uint64_t kCmdline = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;        // bytes, including the NUL
inline constexpr uint64_t kEbdaStart = 0x9fc00;         // from here to 1 MiB is not RAM
inline constexpr uint64_t kAcpiTables = 0xe0000;        // RSDP, XSDT, MADT (BIOS scan range)
inline constexpr uint64_t kHighMemory = 0x100000;       // 1 MiB: kernels load here or above
inline constexpr uint64_t kMmioHoleStart = 0xc0000000;  // 3 GiB: IOAPIC, LAPIC, PCI
inline constexpr uint64_t kMmioHoleEnd = 0x100000000;   // 4 GiB
inline constexpr uint64_t kIoapicBase = 0xfec00000;
inline constexpr uint64_t kLapicBase = 0xfee00000;
inline constexpr uint64_t kTssAddress = 0xfffbd000;  // only used by Intel real-mode emulation
}  // namespace layout

enum class E820Type : uint32_t { kRam = 1, kReserved = 2, kAcpi = 3 };

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  E820Type type;
};

// The guest's physical memory map for `ram_bytes` of RAM: low RAM below the
// EBDA, the BIOS area reserved, RAM from 1 MiB to the MMIO hole, the rest above 4 GiB.
std::vector<E820Entry> BuildE820(uint64_t ram_bytes);

}  // namespace ferry
