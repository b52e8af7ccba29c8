#include "machine/acpi.h"

#include <cstring>

#include "machine/layout.h"

namespace ferry {
namespace {

constexpr uint32_t kRsdpSize = 36;
constexpr uint32_t kHeaderSize = 36;

uint8_t Checksum(const uint8_t* bytes, size_t len) {
  uint8_t sum = 0;
  for (size_t i = 0; i < len; ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
  return static_cast<uint8_t>(0 - sum);
}

class TableWriter {
 public:
  explicit TableWriter(std::vector<uint8_t>* out) : out_(out), start_(out->size()) {}
  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Bytes(&v, 2); }
  void U32(uint32_t v) { Bytes(&v, 4); }
  void U64(uint64_t v) { Bytes(&v, 8); }
  void Bytes(const void* data, size_t len) {
    auto* p = static_cast<const uint8_t*>(data);
    out_->insert(out_->end(), p, p + len);
  }
  void Header(const char signature[4], uint8_t revision) {
    Bytes(signature, 4);
    U32(0);  // length, patched by Finish
    U8(revision);
    U8(0);  // checksum, patched by Finish
    Bytes("FERRY ", 6);
    Bytes("FERRYVM ", 8);
    U32(1);            // OEM revision
    Bytes("FRRY", 4);  // creator id
    U32(1);            // creator revision
  }
  // Patches length and checksum of an ACPI table started with Header().
  void Finish() {
    uint32_t length = static_cast<uint32_t>(out_->size() - start_);
    std::memcpy(out_->data() + start_ + 4, &length, 4);
    (*out_)[start_ + 9] = Checksum(out_->data() + start_, length);
  }

 private:
  std::vector<uint8_t>* out_;
  size_t start_;
};

void AppendMadt(std::vector<uint8_t>* out, uint32_t cpu_count) {
  TableWriter madt(out);
  madt.Header("APIC", 4);
  madt.U32(static_cast<uint32_t>(layout::kLapicBase));
  madt.U32(1);  // PCAT_COMPAT: there are legacy 8259 PICs too
  for (uint32_t cpu = 0; cpu < cpu_count; ++cpu) {
    madt.U8(0);  // processor local APIC
    madt.U8(8);
    madt.U8(static_cast<uint8_t>(cpu));  // ACPI processor uid
    madt.U8(static_cast<uint8_t>(cpu));  // APIC id
    madt.U32(1);                         // enabled
  }
  madt.U8(1);  // IOAPIC
  madt.U8(12);
  madt.U8(static_cast<uint8_t>(cpu_count));  // IOAPIC id after the CPUs'
  madt.U8(0);
  madt.U32(static_cast<uint32_t>(layout::kIoapicBase));
  madt.U32(0);  // global system interrupt base
  madt.U8(2);   // interrupt source override: the PIT's IRQ 0 arrives on GSI 2
  madt.U8(10);
  madt.U8(0);
  madt.U8(0);
  madt.U32(2);
  madt.U16(0);
  madt.Finish();
}

}  // namespace

std::vector<uint8_t> BuildAcpiTables(uint64_t base, uint32_t cpu_count) {
  std::vector<uint8_t> out(kRsdpSize, 0);
  uint64_t xsdt_addr = base + kRsdpSize;

  TableWriter xsdt(&out);
  xsdt.Header("XSDT", 1);
  uint64_t madt_addr = xsdt_addr + kHeaderSize + 8;
  xsdt.U64(madt_addr);
  xsdt.Finish();
  AppendMadt(&out, cpu_count);

  uint8_t* rsdp = out.data();
  std::memcpy(rsdp, "RSD PTR ", 8);
  std::memcpy(rsdp + 9, "FERRY ", 6);
  rsdp[15] = 2;  // ACPI 2.0+: use the XSDT
  uint32_t length = kRsdpSize;
  std::memcpy(rsdp + 20, &length, 4);
  std::memcpy(rsdp + 24, &xsdt_addr, 8);
  rsdp[8] = Checksum(rsdp, 20);
  rsdp[32] = Checksum(rsdp, kRsdpSize);
  return out;
}

}  // namespace ferry
