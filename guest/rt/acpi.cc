#include "rt/acpi.h"

#include "rt/x86.h"

namespace guest::acpi {
namespace {

struct [[gnu::packed]] Rsdp {
  char signature[8];  // "RSD PTR "
  uint8_t checksum;   // over the first 20 bytes
  char oem_id[6];
  uint8_t revision;  // 0: ACPI 1.0 (RSDT only), 2+: XSDT fields valid
  uint32_t rsdt_address;
  uint32_t length;
  uint64_t xsdt_address;
  uint8_t extended_checksum;  // over length bytes
  uint8_t reserved[3];
};

struct [[gnu::packed]] SdtHeader {
  char signature[4];
  uint32_t length;
  uint8_t revision;
  uint8_t checksum;
  char oem_id[6];
  char oem_table_id[8];
  uint32_t oem_revision;
  uint32_t creator_id;
  uint32_t creator_revision;
};

constexpr uint32_t kMadtEntriesOffset = sizeof(SdtHeader) + 8;  // local APIC address, flags
constexpr uint8_t kMadtLocalApic = 0;
constexpr uint8_t kMadtLocalX2Apic = 9;
constexpr uint32_t kApicEnabled = 1;
constexpr uint32_t kFadtDsdt = 40;             // 32-bit DSDT address
constexpr uint32_t kFadtXDsdt = 140;           // 64-bit X_DSDT (ACPI 2.0+)
constexpr uint32_t kMaxTableLength = 1 << 20;  // sanity bound; real tables are tiny

bool checksum_ok(const void* data, uint32_t length) {
  uint8_t sum = 0;
  for (uint32_t i = 0; i < length; ++i) sum += static_cast<const uint8_t*>(data)[i];
  return sum == 0;
}

bool same(const char* a, const char* b, int n) {
  for (int i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

const Rsdp* valid_rsdp(uint64_t paddr) {
  const auto* rsdp = x86::phys<const Rsdp>(paddr);
  if (!same(rsdp->signature, "RSD PTR ", 8) || !checksum_ok(rsdp, 20)) return nullptr;
  return rsdp;
}

const Rsdp* find_rsdp(uint64_t hint) {
  if (hint != 0) return valid_rsdp(hint);
  for (uint64_t p = 0xe0000; p < 0x100000; p += 16) {
    if (const Rsdp* rsdp = valid_rsdp(p)) return rsdp;
  }
  return nullptr;
}

const SdtHeader* valid_table(uint64_t paddr, const char* signature) {
  if (paddr == 0 || paddr >= (64ull << 30)) return nullptr;
  const auto* table = x86::phys<const SdtHeader>(paddr);
  if (!same(table->signature, signature, 4) || table->length < sizeof(SdtHeader) ||
      table->length > kMaxTableLength || !checksum_ok(table, table->length)) {
    return nullptr;
  }
  return table;
}

// Walks the RSDT (32-bit entries) or XSDT (64-bit entries) for a table by signature.
const SdtHeader* find_table(const Rsdp* rsdp, const char* signature) {
  bool xsdt = rsdp->revision >= 2 && rsdp->xsdt_address != 0;
  const SdtHeader* root =
      xsdt ? valid_table(rsdp->xsdt_address, "XSDT") : valid_table(rsdp->rsdt_address, "RSDT");
  if (root == nullptr) return nullptr;
  const uint8_t* entries = reinterpret_cast<const uint8_t*>(root) + sizeof(SdtHeader);
  uint32_t entry_size = xsdt ? 8 : 4;
  uint32_t n = (root->length - sizeof(SdtHeader)) / entry_size;
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t paddr = 0;
    __builtin_memcpy(&paddr, entries + i * entry_size, entry_size);
    if (const SdtHeader* table = valid_table(paddr, signature)) return table;
  }
  return nullptr;
}

void add_cpu(CpuList& out, uint32_t apic_id, uint32_t flags) {
  if ((flags & kApicEnabled) == 0) return;
  ++out.enabled;
  if (out.count < kMaxCpus) out.apic_ids[out.count++] = apic_id;
}

}  // namespace

bool read_cpus(uint64_t rsdp_hint, CpuList& out) {
  const Rsdp* rsdp = find_rsdp(rsdp_hint);
  if (rsdp == nullptr) return false;
  const SdtHeader* madt = find_table(rsdp, "APIC");
  if (madt == nullptr) return false;

  const uint8_t* base = reinterpret_cast<const uint8_t*>(madt);
  for (uint32_t at = kMadtEntriesOffset; at + 2 <= madt->length;) {
    uint8_t type = base[at];
    uint8_t length = base[at + 1];
    if (length < 2 || at + length > madt->length) break;
    const uint8_t* e = base + at;
    if (type == kMadtLocalApic && length >= 8) {
      uint32_t flags;
      __builtin_memcpy(&flags, e + 4, 4);
      add_cpu(out, e[3], flags);
    } else if (type == kMadtLocalX2Apic && length >= 16) {
      uint32_t apic_id, flags;
      __builtin_memcpy(&apic_id, e + 4, 4);
      __builtin_memcpy(&flags, e + 8, 4);
      add_cpu(out, apic_id, flags);
    }
    at += length;
  }
  return out.count > 0;
}

const uint8_t* find_dsdt(uint64_t rsdp_hint, uint32_t* length) {
  const Rsdp* rsdp = find_rsdp(rsdp_hint);
  if (rsdp == nullptr) return nullptr;
  const SdtHeader* fadt = find_table(rsdp, "FACP");
  if (fadt == nullptr) return nullptr;
  const uint8_t* f = reinterpret_cast<const uint8_t*>(fadt);
  uint64_t paddr = 0;
  if (fadt->length >= kFadtXDsdt + 8) __builtin_memcpy(&paddr, f + kFadtXDsdt, 8);
  if (paddr == 0 && fadt->length >= kFadtDsdt + 4) __builtin_memcpy(&paddr, f + kFadtDsdt, 4);
  const SdtHeader* dsdt = valid_table(paddr, "DSDT");
  if (dsdt == nullptr) return nullptr;
  *length = dsdt->length;
  return reinterpret_cast<const uint8_t*>(dsdt);
}

}  // namespace guest::acpi
