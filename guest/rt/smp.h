// Starting the application processors (APs) from ring 3.
#pragma once

#include "rt/acpi.h"
#include "rt/memory.h"

namespace guest::smp {

// Starts cpus.apic_ids[1..count) one at a time, in list order, so CPU index i always
// belongs to apic_ids[i] (entry 0 is the BSP). Exits with status 3 when an AP does not
// arrive in ring 3.
void start_aps(const acpi::CpuList& cpus, const MemoryMap& memory);

// Called by each AP once it runs in ring 3.
void ap_arrived();

}  // namespace guest::smp
