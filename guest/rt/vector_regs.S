// Loads and stores YMM8-YMM15, which no other guest code touches (the C++ runtime is
// built general-registers-only), so values placed there must survive anything short of
// a VMM that loses the vCPU's XSAVE state. Callers check that AVX is enabled.

        .text
        .code64

// void vector_regs_load(const uint64_t values[8][4])
        .globl vector_regs_load
vector_regs_load:
        vmovdqu 0(%rdi), %ymm8
        vmovdqu 32(%rdi), %ymm9
        vmovdqu 64(%rdi), %ymm10
        vmovdqu 96(%rdi), %ymm11
        vmovdqu 128(%rdi), %ymm12
        vmovdqu 160(%rdi), %ymm13
        vmovdqu 192(%rdi), %ymm14
        vmovdqu 224(%rdi), %ymm15
        ret

// void vector_regs_store(uint64_t values[8][4])
        .globl vector_regs_store
vector_regs_store:
        vmovdqu %ymm8, 0(%rdi)
        vmovdqu %ymm9, 32(%rdi)
        vmovdqu %ymm10, 64(%rdi)
        vmovdqu %ymm11, 96(%rdi)
        vmovdqu %ymm12, 128(%rdi)
        vmovdqu %ymm13, 160(%rdi)
        vmovdqu %ymm14, 192(%rdi)
        vmovdqu %ymm15, 224(%rdi)
        ret
