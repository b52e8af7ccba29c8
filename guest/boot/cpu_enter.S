// Per-CPU ring-0 setup shared by the BSP and the APs, and the boot data it uses.
//
// In: long mode, paging on, EDI = CPU index. Loads CR4 and XCR0 as chosen by the BSP,
// registers this CPU's kvmclock area, then IRETQs to cpu_main(index) in ring 3 on the
// CPU's own stack with IOPL 3 and interrupts off. Nothing comes back to ring 0.
#include "boot_abi.h"
#include "x86_defs.h"

        .section .text.boot, "ax"
        .code64
        .globl cpu_enter_ring3
cpu_enter_ring3:
        cmpl    $GUEST_MAX_CPUS, %edi
        jae     park
        movl    $GUEST_SEL_KDATA, %eax
        movl    %eax, %ss
        movl    boot_cr4(%rip), %eax
        movq    %rax, %cr4
        movl    boot_xcr0(%rip), %eax
        testl   %eax, %eax
        jz      1f
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        xsetbv
1:
        movl    boot_kvmclock_msr(%rip), %ecx
        testl   %ecx, %ecx
        jz      2f
        imull   $GUEST_PVCLOCK_SIZE, %edi, %eax
        leaq    guest_pvclock(%rip), %rdx
        leaq    1(%rdx, %rax), %rax     // bit 0 enables the clock
        movq    %rax, %rdx
        shrq    $32, %rdx
        wrmsr
2:
        // Stack top of this CPU; the IRETQ frame lives just below it until IRETQ.
        leal    1(%edi), %eax
        imull   $GUEST_STACK_SIZE, %eax, %eax
        leaq    boot_cpu_stacks(%rip), %rsp
        addq    %rax, %rsp
        leaq    -8(%rsp), %rax          // ring-3 entry sees RSP as after a call
        pushq   $GUEST_SEL_UDATA
        pushq   %rax
        pushq   $GUEST_USER_RFLAGS
        pushq   $GUEST_SEL_UCODE
        leaq    cpu_main(%rip), %rax
        pushq   %rax
        movl    $GUEST_SEL_UDATA, %eax  // ring-3 data segments (IRETQ loads SS)
        movl    %eax, %ds
        movl    %eax, %es
        xorl    %ebp, %ebp
        iretq

park:   // more CPUs than we have stacks for: never started by the BSP; stay here
        hlt
        jmp     park

        .section .data.boot, "aw"
        .balign 8
        .globl boot_start_info, boot_cr4, boot_xcr0, boot_kvmclock_msr, boot_next_cpu
boot_start_info:        .long 0         // EBX at PVH entry: struct hvm_start_info
boot_cr4:               .long CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT
boot_xcr0:              .long 0         // 0: no XSAVE, leave XCR0 alone
boot_kvmclock_msr:      .long 0         // 0: no kvmclock
boot_next_cpu:          .long 1         // index for the next AP (the BSP is 0)

        .balign 16
        .globl boot_gdt
boot_gdt:
        .quad 0                         // null
        .quad 0x00af9a000000ffff        // 0x08 kernel code, 64-bit
        .quad 0x00cf92000000ffff        // 0x10 kernel data
        .quad 0x00cff2000000ffff        // 0x18 user data (DPL 3)
        .quad 0x00affa000000ffff        // 0x20 user code, 64-bit (DPL 3)
boot_gdt_end:
        .if boot_gdt_end - boot_gdt != GUEST_GDT_ENTRIES * 8
        .error "GUEST_GDT_ENTRIES does not match the GDT"
        .endif

        .globl boot_gdt_pointer
        .balign 8
        .word 0                         // pad so the base is 8-byte aligned
boot_gdt_pointer:
        .word GUEST_GDT_ENTRIES * 8 - 1
        .quad boot_gdt

        .section .bss.stacks, "aw", @nobits
        .balign 4096
        .globl boot_cpu_stacks
boot_cpu_stacks:
        .skip GUEST_MAX_CPUS * GUEST_STACK_SIZE
