// `ferry run --vm FILE`: the VM description `ferry import` writes (vm.json,
// docs/import.md) turned into a VmConfig. Paths in it are relative to the
// file's directory; the command line adds the host-side parts (TAP names,
// a kernel) and may override memory and vCPUs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "devices/block/raw_disk.h"
#include "devices/net/mac_address.h"

namespace ferry {

struct VmDescriptionDisk {
  std::string path;    // resolved against the description's directory
  std::string format;  // as recorded ("raw", "qcow2", ...)
};

struct VmDescription {
  std::string name;
  uint64_t memory_bytes = 0;           // rounded up for ferry's slots; 0: not recorded
  uint64_t recorded_memory_bytes = 0;  // as recorded, for export to other platforms
  uint32_t cpus = 0;                   // 0: not recorded
  std::string firmware;                // "bios", "efi" or "" (not recorded)
  std::string guest_os;                // the source platform's words for it
  std::string imported_from;           // the source's kind ("vmx", "ova", ...) or
  std::string kernel;                  // optional keys a user may add: direct kernel boot
  std::string cmdline;
  std::vector<VmDescriptionDisk> disks;
  std::vector<std::optional<MacAddress>> nic_macs;  // nullopt: none carried over
};

// FILE may be vm.json itself or the directory `ferry import` wrote.
Result<VmDescription> LoadVmDescription(const std::string& path);
// The same, from text; `dir` resolves relative paths. For tests.
Result<VmDescription> ParseVmDescription(const std::string& text, const std::string& dir,
                                         const std::string& name_for_errors);

}  // namespace ferry
