// A per-CPU pattern kept in YMM8-YMM15 for a whole run and checked from time to time:
// a VMM that drops or mixes up the vCPUs' XSAVE (AVX) state on migration or restore makes
// the workload fail. Does nothing when AVX is not enabled. Opt-in (--vector-check): on
// the PVM test host KVM_GET_XSAVE reads the upper YMM halves as zero, so every state
// save there (QEMU migration, even QEMU's "info registers") trips it.
#pragma once

#include <stdint.h>

namespace guest {

class VectorCanary {
 public:
  // Loads this CPU's pattern.
  void arm(int cpu);
  // Prints "<workload>: FAIL cpu=C reason=vector_state ..." and exits with status 1
  // unless the registers still hold the pattern.
  void check(const char* workload) const;

 private:
  int cpu_ = -1;  // -1: not armed (no AVX)
};

}  // namespace guest
