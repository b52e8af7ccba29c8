// Constants shared by the ring-0 assembly and the ring-3 C++ runtime.
// Plain #defines so that both the assembler and the compiler can read them.
#pragma once

#define GUEST_MAX_CPUS 64
#define GUEST_STACK_SIZE 16384  // per-CPU ring-3 stack; also holds the IRETQ frame
#define GUEST_PVCLOCK_SIZE 32   // struct pvclock_vcpu_time_info

// GDT selectors: null, kernel code64, kernel data, user data, user code64 (no TSS:
// PVM resets a guest that loads TR).
#define GUEST_GDT_ENTRIES 5
#define GUEST_SEL_KCODE 0x08
#define GUEST_SEL_KDATA 0x10
#define GUEST_SEL_UDATA 0x1b  // 0x18 | RPL 3
#define GUEST_SEL_UCODE 0x23  // 0x20 | RPL 3

// RFLAGS in ring 3: IOPL 3 (port I/O allowed), IF 0 (we never take interrupts).
#define GUEST_USER_RFLAGS 0x3002
