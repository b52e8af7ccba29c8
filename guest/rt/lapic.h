// The local APIC in xAPIC mode, through its MMIO page. Ring-3 code may touch it because
// the identity map is user accessible; the host emulates every access.
#pragma once

#include <stdint.h>

namespace guest::lapic {

// This CPU's APIC ID. (CPUID cannot tell: on PVM, CPUID in ring 3 runs natively and
// reports the host CPU.)
uint32_t id();

// Reads and writes a register of this CPU's local APIC (offset into the MMIO page).
uint32_t read(uint32_t offset);
void write(uint32_t offset, uint32_t value);

// Sends an IPI with the given ICR low word to one CPU, by APIC ID (0-255).
void send_ipi(uint32_t apic_id, uint32_t command);

inline constexpr uint32_t kIcrInitAssert = 0x00004500;  // delivery mode INIT, level assert
inline constexpr uint32_t kIcrStartup = 0x00004600;     // delivery mode STARTUP | vector

}  // namespace guest::lapic
