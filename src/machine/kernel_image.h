// Parsing of the kernel files ferry boots: ELF images with a PVH entry note
// (the guest kit, Linux vmlinux) and Linux bzImages (64-bit boot protocol).
// The parsers only read and check; loading into guest memory is boot_loader's job.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace ferry {

struct ElfSegment {
  uint64_t file_offset;
  uint64_t file_size;
  uint64_t mem_size;
  uint64_t guest_addr;  // p_paddr: PVH kernels are loaded by physical address
};

struct PvhElf {
  uint32_t entry;  // XEN_ELFNOTE_PHYS32_ENTRY: entered in 32-bit protected mode
  std::vector<ElfSegment> segments;
};

struct BzImage {
  uint16_t protocol;       // boot protocol version, e.g. 0x020f
  uint64_t setup_bytes;    // boot sector + real-mode setup, skipped when loading
  uint64_t kernel_offset;  // start of the protected-mode kernel in the file
  uint64_t kernel_size;
  uint32_t init_size;         // memory the kernel needs from its load address
  uint32_t cmdline_max;       // longest command line it accepts, without the NUL
  uint64_t setup_header_end;  // copy [0x1f1, setup_header_end) into the zero page
};

enum class KernelKind { kPvhElf, kBzImage };

// Looks at the magic numbers only.
Result<KernelKind> DetectKernelKind(std::span<const uint8_t> file);
Result<PvhElf> ParsePvhElf(std::span<const uint8_t> file);
Result<BzImage> ParseBzImage(std::span<const uint8_t> file);

}  // namespace ferry
