// PVH entry for the bootstrap CPU (BSP).
//
// The loader enters here in 32-bit protected mode with paging off and EBX pointing at
// struct hvm_start_info. On PVM every ring-0 instruction is emulated (~1 us each), so
// this path only switches to long mode, picks the CPU features that need ring 0
// (XSAVE/AVX, kvmclock) and falls into cpu_enter_ring3. Everything else, including
// reading start_info, happens in ring 3.
#include "boot_abi.h"
#include "x86_defs.h"

// XEN_ELFNOTE_PHYS32_ENTRY. QEMU steps through notes by the segment's p_align and
// reads the descriptor as a 64-bit value, so keep 4-byte alignment and a .quad (as
// Linux does).
        .section .note.pvh, "a", @note
        .balign 4
        .long 4                 // namesz
        .long 8                 // descsz
        .long 18                // type: XEN_ELFNOTE_PHYS32_ENTRY
        .asciz "Xen"
        .balign 4
        .quad pvh_start32

        .section .text.boot, "ax"
        .code32
        .globl pvh_start32
pvh_start32:
        movl    %ebx, boot_start_info
        lgdt    boot_gdt_pointer
        movl    $CR4_PAE, %eax
        movl    %eax, %cr4
        movl    $boot_pml4, %eax
        movl    %eax, %cr3
        movl    $MSR_EFER, %ecx
        movl    $EFER_LME, %eax
        xorl    %edx, %edx
        wrmsr
        movl    $CR0_LONG_MODE, %eax
        movl    %eax, %cr0
        ljmp    $GUEST_SEL_KCODE, $bsp_long64

        .code64
bsp_long64:
        // XSAVE present -> CR4.OSXSAVE and XCR0 = x87|SSE (|AVX when present).
        movl    $1, %eax
        cpuid
        btl     $CPUID1_ECX_XSAVE, %ecx
        jnc     1f
        orl     $CR4_OSXSAVE, boot_cr4(%rip)
        movl    $(XCR0_X87 | XCR0_SSE), %eax
        btl     $CPUID1_ECX_AVX, %ecx
        jnc     2f
        orl     $XCR0_AVX, %eax
2:      movl    %eax, boot_xcr0(%rip)
1:
        // kvmclock: signature "KVMKVMKVM\0\0\0" at leaf 0x40000000, features at 0x40000001.
        movl    $KVM_CPUID_SIGNATURE, %eax
        cpuid
        cmpl    $0x4b4d564b, %ebx       // "KVMK"
        jne     3f
        cmpl    $0x564b4d56, %ecx       // "VMKV"
        jne     3f
        cmpl    $0x0000004d, %edx       // "M\0\0\0"
        jne     3f
        movl    $KVM_CPUID_FEATURES, %eax
        cpuid
        movl    $MSR_KVM_SYSTEM_TIME_NEW, %ecx
        btl     $KVM_FEATURE_CLOCKSOURCE2, %eax
        jc      4f
        movl    $MSR_KVM_SYSTEM_TIME, %ecx
        btl     $KVM_FEATURE_CLOCKSOURCE, %eax
        jnc     3f
4:      movl    %ecx, boot_kvmclock_msr(%rip)
3:
        xorl    %edi, %edi              // the BSP is CPU 0
        jmp     cpu_enter_ring3
