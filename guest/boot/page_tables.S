// Static identity map of 0-64 GiB with 2 MiB pages, every level user-accessible and
// writable so that ring-3 code can reach all of RAM, MMIO and the boot data. Built by
// the assembler because a fill loop would run emulated in ring 0 (PVM), one
// instruction per microsecond.
#include "x86_defs.h"

#define GIB_MAPPED 64
#define TABLE_FLAGS (PTE_P | PTE_RW | PTE_US)
#define LARGE_PAGE_FLAGS (PTE_P | PTE_RW | PTE_US | PTE_PS)

        .section .data.page_tables, "aw"
        .balign 4096
        .globl boot_pml4
boot_pml4:
        .quad boot_pdpt + TABLE_FLAGS
        .fill 511, 8, 0

boot_pdpt:
        .set gib, 0
        .rept GIB_MAPPED
        .quad boot_pd + gib * 4096 + TABLE_FLAGS
        .set gib, gib + 1
        .endr
        .fill 512 - GIB_MAPPED, 8, 0

boot_pd:
        .set page, 0
        .rept GIB_MAPPED * 512
        .quad page + LARGE_PAGE_FLAGS
        .set page, page + 0x200000
        .endr
