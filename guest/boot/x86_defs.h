// Architectural constants used by the ring-0 assembly.
#pragma once

#define CR0_PE 0x00000001
#define CR0_MP 0x00000002
#define CR0_ET 0x00000010
#define CR0_NE 0x00000020
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR0_LONG_MODE (CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE)

#define CR4_PAE 0x00000020
#define CR4_OSFXSR 0x00000200
#define CR4_OSXMMEXCPT 0x00000400
#define CR4_OSXSAVE 0x00040000

#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

#define CPUID1_ECX_XSAVE 26
#define CPUID1_ECX_AVX 28

#define XCR0_X87 0x1
#define XCR0_SSE 0x2
#define XCR0_AVX 0x4

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE 0
#define KVM_FEATURE_CLOCKSOURCE2 3
#define MSR_KVM_SYSTEM_TIME 0x12
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

// Page-table entry bits: present, writable, user-accessible, 2 MiB page.
#define PTE_P 0x1
#define PTE_RW 0x2
#define PTE_US 0x4
#define PTE_PS 0x80
