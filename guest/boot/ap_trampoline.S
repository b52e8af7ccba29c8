// Real-mode entry for application processors (APs).
//
// Ring-3 code on the BSP copies this blob to a free page below 1 MiB and points the
// SIPI vector at it. It must therefore be position independent: everything it touches
// through DS is addressed relative to its own start (CS = DS = page >> 4); the GDT, the
// page tables and the 64-bit code are reached through absolute addresses below 4 GiB.
// It goes from real mode straight to long mode (PE and PG set together) to keep the
// emulated ring-0 path short.
#include "boot_abi.h"
#include "x86_defs.h"

        .section .rodata.trampoline, "a"
        .code16
        .globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
        cli
        movw    %cs, %ax
        movw    %ax, %ds
        lgdtl   ap_gdt_pointer - ap_trampoline_start
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
        ljmpl   $GUEST_SEL_KCODE, $ap_long64

        .balign 8
ap_gdt_pointer:
        .word GUEST_GDT_ENTRIES * 8 - 1
        .long boot_gdt
ap_trampoline_end:

        .section .text.boot, "ax"
        .code64
ap_long64:
        movl    $1, %edi
        lock xaddl %edi, boot_next_cpu(%rip)
        jmp     cpu_enter_ring3
