// CPU identity.
#pragma once

#include <stdint.h>

#include "rt/boot.h"

namespace guest {

inline constexpr int kMaxCpus = GUEST_MAX_CPUS;

// The index of the calling CPU. Ring 3 has no per-CPU register set up for it (that
// would take ring-0 work), but each CPU runs on its own fixed stack, so the stack
// pointer tells which CPU we are.
inline int this_cpu() {
  uintptr_t sp;
  asm("mov %%rsp, %0" : "=r"(sp));
  return static_cast<int>((sp - reinterpret_cast<uintptr_t>(boot_cpu_stacks)) / GUEST_STACK_SIZE);
}

}  // namespace guest
