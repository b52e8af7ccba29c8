#include "rt/start_info.h"

#include "rt/boot.h"
#include "rt/exit.h"
#include "rt/x86.h"

namespace guest {
namespace {

// xen/include/public/arch-x86/hvm/start_info.h
constexpr uint32_t kStartInfoMagic = 0x336ec578;
constexpr uint32_t kMemmapTypeRam = 1;

struct HvmStartInfo {
  uint32_t magic;
  uint32_t version;
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;    // version 1
  uint32_t memmap_entries;  // version 1
  uint32_t reserved;
};

struct HvmMemmapEntry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};

void copy_cmdline(uint64_t paddr, char* out, int capacity) {
  int n = 0;
  if (paddr != 0) {
    const char* in = x86::phys<const char>(paddr);
    while (n + 1 < capacity && in[n] != '\0') {
      out[n] = in[n];
      ++n;
    }
  }
  out[n] = '\0';
}

}  // namespace

void read_boot_info(BootInfo& info) {
  if (boot_start_info == 0) fatal(kExitInternal, "no PVH start_info (EBX was 0)");
  const auto* si = x86::phys<const HvmStartInfo>(boot_start_info);
  if (si->magic != kStartInfoMagic) {
    fatal(kExitInternal, "bad start_info magic 0x%x at 0x%x", si->magic, boot_start_info);
  }
  info.version = si->version;
  info.rsdp = si->rsdp_paddr;
  copy_cmdline(si->cmdline_paddr, info.cmdline, BootInfo::kMaxCmdline);

  if (si->version >= 1 && si->memmap_paddr != 0) {
    const auto* entries = x86::phys<const HvmMemmapEntry>(si->memmap_paddr);
    for (uint32_t i = 0; i < si->memmap_entries; ++i) {
      if (entries[i].type == kMemmapTypeRam) info.memory.add_ram(entries[i].addr, entries[i].size);
    }
  }
  if (info.memory.count() == 0) {
    fatal(kExitBadConfig, "start_info v%u has no memory map (need v1 with memmap)", si->version);
  }
}

}  // namespace guest
