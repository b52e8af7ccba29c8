// Minimal ACPI tables (RSDP, XSDT, MADT) so that a guest can count its CPUs
// and find the IOAPIC, the way it would on a PC.
#pragma once

#include <cstdint>
#include <vector>

namespace ferry {

// Returns the bytes to place at `base`; the RSDP comes first, at `base` itself.
std::vector<uint8_t> BuildAcpiTables(uint64_t base, uint32_t cpu_count);

}  // namespace ferry
