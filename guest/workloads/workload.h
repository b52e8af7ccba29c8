// The interface between the runtime and a workload.
#pragma once

#include <stdint.h>

#include "rt/args.h"
#include "rt/memory.h"

namespace guest {

// What a workload may know about the machine.
struct Machine {
  int cpus;
  const MemoryMap* memory;
  uint64_t rsdp;  // start_info's ACPI RSDP address, 0 when not given (scan the BIOS area)
};

struct Workload {
  const char* name;
  // Runs once on the BSP before any CPU starts working: reads the workload's options
  // from args and claims memory. Exits through fatal() on bad options.
  void (*configure)(Args& args, const Machine& machine);
  // Runs on every CPU at the same time; returns this CPU's exit status. The guest exits
  // with the largest status once every CPU has returned.
  uint32_t (*run)(int cpu);
};

// nullptr when there is no workload of that name.
const Workload* find_workload(const char* name);

// "hello, idle, dirtier, ...", for error messages.
const char* workload_names();

}  // namespace guest
