#include "rt/virtio_discover.h"

#include "rt/acpi.h"
#include "rt/console.h"
#include "rt/pci.h"
#include "rt/str.h"
#include "rt/virtio_mmio.h"
#include "rt/virtio_pci.h"

namespace guest::virtio {
namespace {

constexpr int kMaxPci = 16;
constexpr int kMaxMmio = 32;

constinit pci::Inventory g_pci_inventory;
constinit PciTransport g_pci[kMaxPci];
constinit int g_pci_count = 0;
constinit MmioTransport g_mmio[kMaxMmio];
constinit int g_mmio_count = 0;
constinit uint64_t g_mmio_bases[kMaxMmio] = {};
constinit int g_mmio_base_count = 0;
constinit Transport* g_devices[kMaxPci + kMaxMmio] = {};
constinit int g_device_count = 0;

void add_mmio_base(uint64_t base) {
  for (int i = 0; i < g_mmio_base_count; ++i) {
    if (g_mmio_bases[i] == base) return;
  }
  if (g_mmio_base_count < kMaxMmio) g_mmio_bases[g_mmio_base_count++] = base;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "virtio_mmio.device=512@0xfeb00e00:12" (Linux's format: SIZE@BASE:IRQ[:ID]): the base.
uint64_t parse_mmio_param(const char* word) {
  const char* prefix = "virtio_mmio.device=";
  for (; *prefix != '\0'; ++prefix, ++word) {
    if (*word != *prefix) return 0;
  }
  while (*word != '\0' && *word != '@') ++word;
  if (word[0] != '@' || word[1] != '0' || (word[2] != 'x' && word[2] != 'X')) return 0;
  uint64_t base = 0;
  int digits = 0;
  for (word += 3; hex_digit(*word) >= 0 && digits < 16; ++word, ++digits) {
    base = base << 4 | static_cast<uint64_t>(hex_digit(*word));
  }
  return digits == 0 ? 0 : base;
}

// AML: a device whose _HID is the string "LNRO0005" (virtio-mmio) is followed, within
// the same device, by its _CRS buffer with a Memory32Fixed descriptor: 0x86, length
// 0x0009, read/write flag, then base and length (little endian). A plain byte scan is
// enough for the tables QEMU writes; no AML interpreter needed.
void scan_dsdt(uint64_t rsdp) {
  uint32_t length = 0;
  const uint8_t* dsdt = acpi::find_dsdt(rsdp, &length);
  if (dsdt == nullptr) return;
  const char* hid = "LNRO0005";
  for (uint32_t i = 0; i + 8 <= length; ++i) {
    if (__builtin_memcmp(dsdt + i, hid, 8) != 0) continue;
    for (uint32_t j = i + 8; j + 12 <= length && j < i + 160; ++j) {
      if (dsdt[j] != 0x86 || dsdt[j + 1] != 0x09 || dsdt[j + 2] != 0x00) continue;
      uint32_t base;
      __builtin_memcpy(&base, dsdt + j + 4, 4);
      if (base != 0) add_mmio_base(base);
      break;
    }
  }
}

void discover_pci() {
  g_pci_inventory.scan();
  for (int i = 0; i < g_pci_inventory.count(); ++i) {
    const pci::Function& f = g_pci_inventory.function(i);
    uint32_t type = PciTransport::type_of(f);
    char buf[16];
    const char* name =
        type != 0 ? type_name(type, buf) : pci::class_name(f.class_code, f.subclass, buf);
    const char* why = nullptr;
    if (type != 0 && g_pci_count == kMaxPci) why = "too many virtio devices";
    if (type != 0 && why == nullptr && !g_pci_inventory.assign_bars(i)) why = "no room for a BAR";
    if (type != 0 && why == nullptr &&
        g_pci[g_pci_count].attach(g_pci_inventory.function(i), &why)) {
      g_devices[g_device_count++] = &g_pci[g_pci_count++];
    }
    console::print("pci: %02x:%02x.%x %04x:%04x %s%s%s\n", f.address.bus, f.address.device,
                   f.address.function, f.vendor, f.device, name, why ? " ignored: " : "",
                   why ? why : "");
  }
}

void sort_bases() {
  for (int i = 1; i < g_mmio_base_count; ++i) {
    for (int j = i; j > 0 && g_mmio_bases[j - 1] > g_mmio_bases[j]; --j) {
      uint64_t t = g_mmio_bases[j];
      g_mmio_bases[j] = g_mmio_bases[j - 1];
      g_mmio_bases[j - 1] = t;
    }
  }
}

void discover_mmio(const Args& args, uint64_t rsdp) {
  for (int i = 0; i < args.kernel_param_count(); ++i) {
    uint64_t base = parse_mmio_param(args.kernel_param(i));
    if (base != 0) add_mmio_base(base);
  }
  scan_dsdt(rsdp);
  sort_bases();
  for (int i = 0; i < g_mmio_base_count; ++i) {
    MmioTransport& t = g_mmio[g_mmio_count];
    MmioTransport::Probe probe = t.attach(g_mmio_bases[i]);
    if (probe == MmioTransport::Probe::kEmpty) continue;
    const char* why = nullptr;
    if (probe == MmioTransport::Probe::kNotVirtio) why = "no virtio-mmio magic";
    if (probe == MmioTransport::Probe::kLegacy) {
      why = "legacy interface (version 1); QEMU: -global virtio-mmio.force-legacy=false";
    }
    char buf[16];
    console::print("virtio-mmio: 0x%lx %s%s%s\n", g_mmio_bases[i],
                   why != nullptr && probe == MmioTransport::Probe::kNotVirtio
                       ? "?"
                       : type_name(t.device_type(), buf),
                   why ? " ignored: " : "", why ? why : "");
    if (why == nullptr) {
      g_devices[g_device_count++] = &t;
      ++g_mmio_count;
    }
  }
}

}  // namespace

void discover(const Args& args, uint64_t rsdp) {
  discover_pci();
  discover_mmio(args, rsdp);
}

Transport* find(uint32_t type, int index) {
  for (int i = 0; i < g_device_count; ++i) {
    if (g_devices[i]->device_type() == type && index-- == 0) return g_devices[i];
  }
  return nullptr;
}

int count(uint32_t type) {
  int n = 0;
  for (int i = 0; i < g_device_count; ++i) n += g_devices[i]->device_type() == type;
  return n;
}

}  // namespace guest::virtio
