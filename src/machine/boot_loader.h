// Puts a kernel and everything it needs to start into guest memory:
// PVH (hvm_start_info) for ELF kernels, the Linux zero page for bzImages.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "base/result.h"
#include "machine/guest_memory.h"

namespace ferry {

struct BootPlan {
  enum class Entry {
    kPvh32,    // 32-bit protected mode, paging off, EBX = hvm_start_info
    kLinux64,  // long mode on identity tables, RSI = zero page
  };
  Entry entry;
  uint64_t entry_point;
  uint64_t boot_info;  // hvm_start_info or zero page address
};

struct BootConfig {
  std::string kernel_path;
  std::string cmdline;
  uint32_t cpu_count;
};

Result<BootPlan> LoadKernel(const BootConfig& config, GuestMemory& memory);

// Reads and parses the kernel file without loading it, so that a wrong path or a
// file that is not a kernel is reported before any VM is made.
Status CheckKernel(const std::string& kernel_path);

// Exposed for tests: the loaders on an image already in memory.
Result<BootPlan> LoadPvhKernel(std::span<const uint8_t> file, const BootConfig& config,
                               GuestMemory& memory);
Result<BootPlan> LoadBzImageKernel(std::span<const uint8_t> file, const BootConfig& config,
                                   GuestMemory& memory);

// hvm_start_info as defined by xen/include/public/arch-x86/hvm/start_info.h.
struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

inline constexpr uint32_t kHvmStartMagic = 0x336ec578;

}  // namespace ferry
