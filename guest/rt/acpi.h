// The few ACPI tables we read: RSDP -> RSDT/XSDT -> MADT, for the list of CPUs, and
// the DSDT (through the FADT), where QEMU's microvm lists its virtio-mmio devices.
#pragma once

#include <stdint.h>

#include "rt/cpu.h"

namespace guest::acpi {

struct CpuList {
  uint32_t apic_ids[kMaxCpus] = {};  // enabled local APICs, in MADT order
  int count = 0;                     // entries in apic_ids
  int enabled = 0;                   // enabled CPUs the MADT lists (may exceed kMaxCpus)
};

// rsdp_hint: start_info.rsdp_paddr, or 0 to scan 0xE0000-0xFFFFF. Returns false when
// there is no valid RSDP or MADT (then the machine is run with one CPU).
bool read_cpus(uint64_t rsdp_hint, CpuList& out);

// The DSDT (checksum checked) and its length in bytes, or nullptr when there is none.
const uint8_t* find_dsdt(uint64_t rsdp_hint, uint32_t* length);

}  // namespace guest::acpi
