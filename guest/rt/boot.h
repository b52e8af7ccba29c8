// What the ring-0 boot code (boot/*.S) leaves for the ring-3 runtime.
#pragma once

#include <stdint.h>

#include "boot/boot_abi.h"

extern "C" {
extern uint32_t boot_start_info;    // physical address of struct hvm_start_info (EBX)
extern uint32_t boot_xcr0;          // XCR0 set on every CPU, 0 if XSAVE is off
extern uint32_t boot_kvmclock_msr;  // kvmclock MSR registered on every CPU, 0 if none
extern uint32_t boot_next_cpu;      // index the next AP takes in ring 0
extern uint8_t boot_cpu_stacks[GUEST_MAX_CPUS][GUEST_STACK_SIZE];
extern const uint8_t ap_trampoline_start[];
extern const uint8_t ap_trampoline_end[];
extern uint8_t __image_start[];
extern uint8_t __image_end[];

// Ring-3 entry of every CPU (rt/main.cc).
[[noreturn]] void cpu_main(uint32_t cpu);
}
