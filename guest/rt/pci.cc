#include "rt/pci.h"

#include "rt/console.h"
#include "rt/format.h"
#include "rt/memory.h"

namespace guest::pci {
namespace {

constexpr int kMaxBridgeDepth = 4;
constexpr uint32_t kBarIo = 1;
constexpr uint32_t kBarType64 = 2 << 1;

int bar_count(uint8_t header_type) {
  return header_type == 0 ? 6 : header_type == 1 ? 2 : 0;
}

// Sizes BAR i by writing all ones and reading back which address bits stick. The
// caller has turned decoding off, so the device does not answer at the probe address.
Bar probe_bar(Address a, int i) {
  uint16_t offset = static_cast<uint16_t>(kBar0 + 4 * i);
  uint32_t low = read32(a, offset);
  write32(a, offset, 0xffffffff);
  uint32_t low_mask = read32(a, offset);
  write32(a, offset, low);
  Bar bar;
  if (low_mask == 0) return bar;  // not implemented
  if (low & kBarIo) {
    bar.io = true;
    bar.base = low & ~3u;
    bar.size = (~(low_mask & ~3u) + 1) & 0xffff;
    return bar;
  }
  uint64_t mask = 0xffffffff00000000ull | (low_mask & ~0xfu);
  bar.base = low & ~0xfu;
  if ((low & 6) == kBarType64 && i < 5) {
    bar.is64 = true;
    uint32_t high = read32(a, static_cast<uint16_t>(offset + 4));
    write32(a, static_cast<uint16_t>(offset + 4), 0xffffffff);
    uint32_t high_mask = read32(a, static_cast<uint16_t>(offset + 4));
    write32(a, static_cast<uint16_t>(offset + 4), high);
    mask = static_cast<uint64_t>(high_mask) << 32 | (low_mask & ~0xfu);
    bar.base |= static_cast<uint64_t>(high) << 32;
  }
  bar.size = ~mask + 1;
  return bar;
}

bool reachable(const Bar& bar) {
  return bar.base != 0 && bar.base + bar.size <= kMappedLimit;
}

}  // namespace

void Inventory::add_function(Address a) {
  if (count_ == kMaxFunctions) return;
  Function& f = functions_[count_++];
  f.address = a;
  uint32_t ids = read32(a, kVendorId);
  f.vendor = static_cast<uint16_t>(ids);
  f.device = static_cast<uint16_t>(ids >> 16);
  uint32_t cls = read32(a, kClassRevision);
  f.class_code = static_cast<uint8_t>(cls >> 24);
  f.subclass = static_cast<uint8_t>(cls >> 16);
  f.header_type = read8(a, kHeaderType) & 0x7f;
  if (f.header_type == 0) {
    uint32_t sub = read32(a, kSubsystemVendor);
    f.subsystem_vendor = static_cast<uint16_t>(sub);
    f.subsystem = static_cast<uint16_t>(sub >> 16);
  }
  uint16_t command = read16(a, kCommand);
  write16(a, kCommand, command & ~(kCommandIo | kCommandMemory));
  for (int i = 0; i < bar_count(f.header_type); ++i) {
    f.bars[i] = probe_bar(a, i);
    if (f.bars[i].is64) ++i;  // the upper half is not a BAR of its own
  }
  write16(a, kCommand, command);
}

void Inventory::scan_bus(uint8_t bus, int depth) {
  if (bus_seen_[bus] || depth > kMaxBridgeDepth) return;
  bus_seen_[bus] = true;
  for (uint8_t dev = 0; dev < 32; ++dev) {
    Address a{bus, dev, 0};
    if (read16(a, kVendorId) == 0xffff) continue;
    bool multi = (read8(a, kHeaderType) & 0x80) != 0;
    for (uint8_t fn = 0; fn < (multi ? 8 : 1); ++fn) {
      a.function = fn;
      if (fn != 0 && read16(a, kVendorId) == 0xffff) continue;
      add_function(a);
      const Function& f = functions_[count_ - 1];
      if (f.header_type == 1) {
        uint8_t secondary = read8(a, kSecondaryBus);
        if (secondary != 0) scan_bus(secondary, depth + 1);
      }
    }
  }
}

void Inventory::scan() {
  scan_bus(0, 0);
}

uint64_t Inventory::highest_assigned_end() const {
  uint64_t end = kAssignBase;
  for (int i = 0; i < count_; ++i) {
    for (const Bar& bar : functions_[i].bars) {
      if (bar.io || bar.size == 0 || bar.base == 0) continue;
      uint64_t bar_end = bar.base + bar.size;
      if (bar_end <= kAssignLimit && bar_end > end) end = bar_end;
    }
  }
  return end;
}

bool Inventory::assign_bars(int index) {
  Function& f = functions_[index];
  bool changed = false;
  for (int i = 0; i < 6; ++i) {
    Bar& bar = f.bars[i];
    if (bar.io || bar.size == 0 || reachable(bar)) continue;
    uint64_t base = align_up(highest_assigned_end(), bar.size);
    if (base + bar.size > kAssignLimit) {
      console::print("pci: %02x:%02x.%x BAR%d (%lu bytes) does not fit below 0x%lx\n",
                     f.address.bus, f.address.device, f.address.function, i, bar.size,
                     kAssignLimit);
      return false;
    }
    if (!changed) {  // decoding off while the BARs move
      write16(f.address, kCommand, read16(f.address, kCommand) & ~(kCommandIo | kCommandMemory));
    }
    changed = true;
    auto offset = static_cast<uint16_t>(kBar0 + 4 * i);
    write32(f.address, offset, static_cast<uint32_t>(base));
    if (bar.is64) write32(f.address, static_cast<uint16_t>(offset + 4), 0);
    console::print("pci: %02x:%02x.%x BAR%d 0x%lx -> 0x%lx (%lu bytes, assigned by the guest)\n",
                   f.address.bus, f.address.device, f.address.function, i, bar.base, base,
                   bar.size);
    bar.base = base;
    bar.assigned_by_guest = true;
  }
  return true;
}

void enable_memory_and_master(Address a) {
  uint16_t command = read16(a, kCommand);
  uint16_t wanted = command | kCommandMemory | kCommandBusMaster;
  if (wanted != command) write16(a, kCommand, wanted);
}

uint8_t first_capability(Address a) {
  if ((read16(a, kStatus) & kStatusCapList) == 0) return 0;
  return read8(a, kCapabilities) & 0xfc;
}

uint8_t next_capability(Address a, uint8_t offset) {
  return read8(a, static_cast<uint16_t>(offset + 1)) & 0xfc;
}

const char* class_name(uint8_t class_code, uint8_t subclass, char (&buf)[16]) {
  if (class_code == 0x06) {
    switch (subclass) {
      case 0x00:
        return "host-bridge";
      case 0x01:
        return "isa-bridge";
      case 0x04:
        return "pci-bridge";
      default:
        return "bridge";
    }
  }
  switch (class_code) {
    case 0x01:
      return "storage";
    case 0x02:
      return "network";
    case 0x03:
      return "display";
    case 0x0c:
      return "serial-bus";
    default:
      snformat(buf, sizeof(buf), "class-0x%02x", class_code);
      return buf;
  }
}

}  // namespace guest::pci
