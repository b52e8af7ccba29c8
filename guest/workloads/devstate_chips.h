// The interrupt controllers and timers that devstate programs and reads back: each CPU's
// local APIC (timer, LINT0, LINT1) and, from CPU 0 only, the IOAPIC, the PIT and the
// PICs. All of it is done from ring 3 (MMIO through the user-accessible identity map,
// port I/O with IOPL 3): on PVM ring 0 is emulated an instruction at a time, so the
// ring-0 core stays as small as it is. Every interrupt source is left masked, since the
// guest never takes interrupts.
#pragma once

#include <stdint.h>

namespace guest::devstate {

// What a check compares; the name appears in FAIL lines as what=NAME.
enum class What : uint8_t {
  kLapicLvt,
  kLapicDivide,
  kLapicInitial,
  kLapicCount,
  kIoapicRedir,
  kIoapicId,
  kIoapicVersion,
  kPitMode,
  kPitCount,
  kPicImr,
  kVector,
  kKvmclock,
  kCount,  // number of names
};

const char* what_name(What what);
// False when no name matches.
bool what_from_name(const char* name, What* what);

// Where a register lives.
enum class Bus : uint8_t {
  kLapic,      // reg = offset in the MMIO page
  kIoapic,     // reg = index written to IOREGSEL
  kPitStatus,  // reg = channel; read with a read-back command
  kPort,       // reg = I/O port, one byte
};

// A register that must keep reading back `value` in the bits of `mask`.
struct Register {
  What what;
  Bus bus;
  uint16_t reg;
  uint32_t mask;
  uint32_t value;
};

struct RegisterSet {
  static constexpr int kMax = 24;
  Register regs[kMax];
  int count = 0;
};

uint32_t read_register(const Register& r);

// The first register that no longer reads back its value (with what it read), or nullptr.
const Register* first_mismatch(const RegisterSet& set, uint32_t* found);

// LAPIC timer: divide by 128, so a count of nearly 2^32 lasts about nine minutes at KVM's
// 1 GHz APIC bus: far longer than any pause under test, so the count's phase tells
// forwards from backwards (see devstate_counter.h).
inline constexpr uint32_t kLapicDivideConfig = 0xa;  // TDCR encoding of divide by 128

// Programs the calling CPU's local APIC: LINT0 and LINT1 masked, the timer periodic and
// masked with a per-CPU vector and initial count. Adds its registers to set and returns
// the initial count.
uint32_t program_lapic(int cpu, RegisterSet& set);

// The calling CPU's LAPIC timer current count.
uint32_t lapic_current_count();

// PIT channel 0: mode 2 (rate generator), binary, reload kPitReload; it counts
// kPitReload..1 at kPitHz and starts over (period about 50 ms).
inline constexpr uint32_t kPitReload = 60000;
inline constexpr uint64_t kPitHz = 1193182;

// CPU 0 only: masks both PICs, gives the IOAPIC an ID and four masked redirection
// entries, and starts PIT channel 0. Adds their registers to set.
void program_chipset(RegisterSet& set);

// Latches PIT channel 0's count; pit_read_latched() then returns it.
void pit_latch();
uint32_t pit_read_latched();

// --selftest-perturb: changes the state behind `what` (the LAPIC ones on the calling
// CPU) so that the next check fails. False when `what` is nothing this file can change.
bool perturb(What what, int cpu);

}  // namespace guest::devstate
