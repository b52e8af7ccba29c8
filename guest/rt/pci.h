// PCI enumeration: every function on bus 0 (multi-function devices included) and behind
// any PCI-PCI bridge whose secondary bus the firmware already numbered. The guest does
// not number buses itself: ferry and QEMU -M microvm have no bridges, and under -M pc
// and q35 the firmware numbers them.
//
// BARs: every BAR of every function is sized once (decoding off meanwhile). A memory
// BAR that reads as 0 (left unassigned, e.g. no firmware ran) or that lies beyond the
// identity map (64 GiB, boot/page_tables.S: a 64-bit BAR placed high by firmware) gets
// an address from the window [kAssignBase, kAssignLimit): above every memory BAR already
// assigned below 4 GiB, aligned to its size. 0xE0000000 is above the RAM of QEMU's
// -M pc (at most 3.5 GiB below 4 GiB) and q35 (2 or 2.75 GiB, plus MMCONFIG at
// 0xB0000000-0xBFFFFFFF) and of ferry (BARs from 0xC0000000 up); 0xFEC00000 is the
// IOAPIC, after which come HPET, LAPIC and the firmware flash.
#pragma once

#include <stdint.h>

#include "rt/pci_config.h"

namespace guest::pci {

inline constexpr uint64_t kAssignBase = 0xe0000000;
inline constexpr uint64_t kAssignLimit = 0xfec00000;

struct Bar {
  uint64_t base = 0;  // 0: none or unassigned
  uint64_t size = 0;  // 0: BAR not implemented
  bool io = false;
  bool is64 = false;  // takes this slot and the next
  bool assigned_by_guest = false;
};

struct Function {
  Address address{};
  uint16_t vendor = 0;
  uint16_t device = 0;
  uint16_t subsystem_vendor = 0;
  uint16_t subsystem = 0;
  uint8_t class_code = 0;
  uint8_t subclass = 0;
  uint8_t header_type = 0;  // without the multi-function bit
  Bar bars[6] = {};
};

class Inventory {
 public:
  static constexpr int kMaxFunctions = 64;

  // Scans the buses and sizes the BARs (BSP only; safe to call once).
  void scan();
  // Gives unassigned or unreachable memory BARs of function i an address (see above).
  // False, naming the BAR, when the window is full.
  bool assign_bars(int i);

  int count() const { return count_; }
  const Function& function(int i) const { return functions_[i]; }

 private:
  void scan_bus(uint8_t bus, int depth);
  void add_function(Address a);
  uint64_t highest_assigned_end() const;

  Function functions_[kMaxFunctions] = {};
  int count_ = 0;
  bool bus_seen_[256] = {};
};

// Sets memory-space decoding and bus mastering (a virtio device reads and writes guest
// RAM, which it may only do as a bus master).
void enable_memory_and_master(Address a);

// First capability's offset, 0 when the function has no list.
uint8_t first_capability(Address a);
// The next capability after the one at offset, 0 at the end.
uint8_t next_capability(Address a, uint8_t offset);

// "host-bridge", "isa-bridge", "pci-bridge", "storage", ... or "class-0xCC".
const char* class_name(uint8_t class_code, uint8_t subclass, char (&buf)[16]);

}  // namespace guest::pci
