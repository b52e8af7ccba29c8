#include "rt/vector_canary.h"

#include "boot/x86_defs.h"
#include "rt/boot.h"
#include "rt/console.h"
#include "rt/exit.h"

extern "C" void vector_regs_load(const uint64_t values[8][4]);
extern "C" void vector_regs_store(uint64_t values[8][4]);

namespace guest {
namespace {

constexpr int kRegs = 8;  // YMM8-YMM15
constexpr int kLanes = 4;
constexpr int kFirstReg = 8;

// Differs per CPU, register and lane, so that state restored to the wrong vCPU shows.
uint64_t pattern(int cpu, int reg, int lane) {
  uint64_t x = (static_cast<uint64_t>(cpu) << 16 | static_cast<uint64_t>(reg) << 8 |
                static_cast<uint64_t>(lane)) +
               1;
  return x * 0x9e3779b97f4a7c15ull ^ 0xa5a5a5a5a5a5a5a5ull;
}

}  // namespace

void VectorCanary::arm(int cpu) {
  if ((boot_xcr0 & XCR0_AVX) == 0) return;
  uint64_t values[kRegs][kLanes];
  for (int r = 0; r < kRegs; ++r) {
    for (int l = 0; l < kLanes; ++l) values[r][l] = pattern(cpu, r, l);
  }
  vector_regs_load(values);
  cpu_ = cpu;
}

bool VectorCanary::intact(VectorMismatch* mismatch) const {
  if (cpu_ < 0) return true;
  uint64_t values[kRegs][kLanes];
  vector_regs_store(values);
  for (int r = 0; r < kRegs; ++r) {
    for (int l = 0; l < kLanes; ++l) {
      if (values[r][l] == pattern(cpu_, r, l)) continue;
      *mismatch = VectorMismatch{kFirstReg + r, l, pattern(cpu_, r, l), values[r][l]};
      return false;
    }
  }
  return true;
}

void VectorCanary::check(const char* workload) const {
  VectorMismatch m;
  if (intact(&m)) return;
  console::print(
      "%s: FAIL cpu=%d reason=vector_state reg=ymm%d lane=%d expected=0x%lx found=0x%lx\n",
      workload, cpu_, m.reg, m.lane, m.expected, m.found);
  exit_guest(kExitVerifyFailed);
}

void VectorCanary::perturb() const {
  if (cpu_ < 0) return;
  uint64_t values[kRegs][kLanes];
  vector_regs_store(values);
  values[kRegs - 1][kLanes - 1] ^= 1ull << 63;
  vector_regs_load(values);
}

}  // namespace guest
