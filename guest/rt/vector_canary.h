// A per-CPU pattern kept in YMM8-YMM15 for a whole run and checked from time to time:
// a VMM that drops or mixes up the vCPUs' XSAVE (AVX) state on migration or restore makes
// the workload fail. Does nothing when AVX is not enabled. Opt-in for idle and dirtier
// (--vector-check), on by default for devstate: on the PVM test host QEMU 7.2 zeroes the
// upper YMM halves whenever it syncs vCPU state (migration, even "info registers"),
// while ferry's pause, snapshot/restore and migration keep them.
#pragma once

#include <stdint.h>

namespace guest {

// The first register lane that does not hold the pattern.
struct VectorMismatch {
  int reg;   // 8-15: ymmN
  int lane;  // 64-bit lane 0-3; 2 and 3 are the upper half
  uint64_t expected;
  uint64_t found;
};

class VectorCanary {
 public:
  // Loads this CPU's pattern.
  void arm(int cpu);
  bool armed() const { return cpu_ >= 0; }
  // False (filling in *mismatch) unless the registers still hold the pattern.
  bool intact(VectorMismatch* mismatch) const;
  // Prints "<workload>: FAIL cpu=C reason=vector_state ..." and exits with status 1
  // unless the registers still hold the pattern.
  void check(const char* workload) const;
  // Flips one bit of the upper half of YMM15, so that tests can see a check fail.
  void perturb() const;

 private:
  int cpu_ = -1;  // -1: not armed (no AVX)
};

}  // namespace guest
