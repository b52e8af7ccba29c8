#include "workloads/devstate_chips.h"

#include "rt/lapic.h"
#include "rt/str.h"
#include "rt/x86.h"

namespace guest::devstate {
namespace {

const char* const kWhatNames[] = {
    "lapic_lvt",      "lapic_divide", "lapic_initial", "lapic_count", "ioapic_redir", "ioapic_id",
    "ioapic_version", "pit_mode",     "pit_count",     "pic_imr",     "vector",       "kvmclock",
};
static_assert(sizeof(kWhatNames) / sizeof(kWhatNames[0]) == static_cast<int>(What::kCount));

// Local APIC registers (offsets in its MMIO page).
constexpr uint32_t kLvtTimer = 0x320;
constexpr uint32_t kLvtLint0 = 0x350;
constexpr uint32_t kLvtLint1 = 0x360;
constexpr uint32_t kInitialCount = 0x380;
constexpr uint32_t kCurrentCount = 0x390;
constexpr uint32_t kDivideConfig = 0x3e0;

constexpr uint32_t kLvtMasked = 1u << 16;
constexpr uint32_t kLvtPeriodic = 1u << 17;
constexpr uint32_t kLvtTimerBits = 0x000700ff;  // vector, mask, mode (not delivery status)
constexpr uint32_t kLvtLintBits = 0x0001a7ff;   // all but delivery status and remote IRR
constexpr uint32_t kDivideBits = 0xb;

// IOAPIC: an index register and a data window.
constexpr uint64_t kIoapicBase = 0xfec00000;
constexpr uint32_t kIoapicSelect = 0x00;
constexpr uint32_t kIoapicWindow = 0x10;
constexpr uint16_t kIoapicIdReg = 0x00;
constexpr uint16_t kIoapicVersionReg = 0x01;
constexpr uint16_t kIoapicRedirReg = 0x10;       // + 2 * pin (low word), + 1 (high word)
constexpr uint32_t kIoapicId = 0xd;              // not a reset value, so a reset shows
constexpr uint32_t kRedirLowBits = 0x0001afff;   // all but delivery status and remote IRR
constexpr uint32_t kRedirHighBits = 0xff000000;  // destination

// Masked entries that differ in every field, on pins no device of ferry or QEMU drives
// (the PIT is on 0 or 2): a mixed-up or partly restored table shows.
struct Redirection {
  uint16_t pin;
  uint32_t low;  // vector | delivery mode | dest mode | polarity | trigger | mask
  uint32_t high;
};
constexpr Redirection kRedirections[] = {
    {3, 0x00010031, 0x01000000},   // vector 0x31, fixed, physical, high, edge
    {9, 0x0001a959, 0x02000000},   // 0x59, lowest priority, logical, low, level
    {14, 0x0001806e, 0x03000000},  // 0x6e, fixed, physical, high, level
    {22, 0x000104d6, 0xff000000},  // 0xd6, NMI, physical, high, edge, broadcast
};

// PIT and PIC ports.
constexpr uint16_t kPitChannel0 = 0x40;
constexpr uint16_t kPitCommand = 0x43;
constexpr uint8_t kPitMode2LoHi = 0x34;       // channel 0, lobyte/hibyte, mode 2, binary
constexpr uint8_t kPitMode3LoHi = 0x36;       // the same in mode 3 (perturbation)
constexpr uint8_t kPitLatchChannel0 = 0x00;   // counter latch command
constexpr uint8_t kPitReadBackStatus = 0xe0;  // read-back, status only; | 2 << channel
constexpr uint32_t kPitStatusBits = 0x3f;     // access, mode, BCD (not output, null count)
constexpr uint16_t kPicMasterData = 0x21;
constexpr uint16_t kPicSlaveData = 0xa1;

volatile uint32_t& ioapic_reg(uint32_t offset) {
  return *x86::phys<volatile uint32_t>(kIoapicBase + offset);
}

uint32_t ioapic_read(uint16_t index) {
  ioapic_reg(kIoapicSelect) = index;
  return ioapic_reg(kIoapicWindow);
}

void ioapic_write(uint16_t index, uint32_t value) {
  ioapic_reg(kIoapicSelect) = index;
  ioapic_reg(kIoapicWindow) = value;
}

void pit_program(uint8_t command, uint32_t reload) {
  x86::outb(kPitCommand, command);
  x86::outb(kPitChannel0, static_cast<uint8_t>(reload));
  x86::outb(kPitChannel0, static_cast<uint8_t>(reload >> 8));
}

// Per CPU, so that LAPIC state restored to the wrong vCPU shows.
uint32_t timer_vector(int cpu) {
  return 0xe0 + static_cast<uint32_t>(cpu % 16);
}
uint32_t initial_count(int cpu) {
  return 0xfedcba98u - static_cast<uint32_t>(cpu) * 0x01010101u;
}

void add(RegisterSet& set, What what, Bus bus, uint16_t reg, uint32_t mask, uint32_t value) {
  if (set.count < RegisterSet::kMax) set.regs[set.count++] = Register{what, bus, reg, mask, value};
}

}  // namespace

const char* what_name(What what) {
  return kWhatNames[static_cast<int>(what)];
}

bool what_from_name(const char* name, What* what) {
  for (int i = 0; i < static_cast<int>(What::kCount); ++i) {
    if (str_equal(kWhatNames[i], name)) {
      *what = static_cast<What>(i);
      return true;
    }
  }
  return false;
}

uint32_t read_register(const Register& r) {
  switch (r.bus) {
    case Bus::kLapic:
      return lapic::read(r.reg);
    case Bus::kIoapic:
      return ioapic_read(r.reg);
    case Bus::kPitStatus:
      x86::outb(kPitCommand, static_cast<uint8_t>(kPitReadBackStatus | 2u << r.reg));
      return x86::inb(static_cast<uint16_t>(kPitChannel0 + r.reg));
    case Bus::kPort:
      return x86::inb(r.reg);
  }
  return 0;
}

const Register* first_mismatch(const RegisterSet& set, uint32_t* found) {
  for (int i = 0; i < set.count; ++i) {
    const Register& r = set.regs[i];
    uint32_t value = read_register(r) & r.mask;
    if (value != (r.value & r.mask)) {
      *found = value;
      return &r;
    }
  }
  return nullptr;
}

uint32_t program_lapic(int cpu, RegisterSet& set) {
  // LINT0 first: on the BSP it comes out of reset as ExtINT, the PIC's way in.
  const uint32_t lint0 = kLvtMasked | 0xa03a;  // level, active low, fixed, vector 0x3a
  const uint32_t lint1 = kLvtMasked | 0x0400;  // NMI
  const uint32_t lvt = kLvtMasked | kLvtPeriodic | timer_vector(cpu);
  const uint32_t initial = initial_count(cpu);
  lapic::write(kLvtLint0, lint0);
  lapic::write(kLvtLint1, lint1);
  lapic::write(kLvtTimer, lvt);
  lapic::write(kDivideConfig, kLapicDivideConfig);
  lapic::write(kInitialCount, initial);  // starts the timer
  add(set, What::kLapicLvt, Bus::kLapic, kLvtTimer, kLvtTimerBits, lvt);
  add(set, What::kLapicLvt, Bus::kLapic, kLvtLint0, kLvtLintBits, lint0);
  add(set, What::kLapicLvt, Bus::kLapic, kLvtLint1, kLvtLintBits, lint1);
  add(set, What::kLapicDivide, Bus::kLapic, kDivideConfig, kDivideBits, kLapicDivideConfig);
  add(set, What::kLapicInitial, Bus::kLapic, kInitialCount, 0xffffffff, initial);
  return initial;
}

uint32_t lapic_current_count() {
  return lapic::read(kCurrentCount);
}

void program_chipset(RegisterSet& set) {
  // The PICs first: PIT channel 0 raises IRQ 0 every period from now on.
  x86::outb(kPicMasterData, 0xff);  // OCW1 (the mask) needs no initialization sequence
  x86::outb(kPicSlaveData, 0xff);
  add(set, What::kPicImr, Bus::kPort, kPicMasterData, 0xff, 0xff);
  add(set, What::kPicImr, Bus::kPort, kPicSlaveData, 0xff, 0xff);

  ioapic_write(kIoapicIdReg, kIoapicId << 24);
  add(set, What::kIoapicId, Bus::kIoapic, kIoapicIdReg, 0x0f000000, kIoapicId << 24);
  // Version and entry count are read-only: whatever they are now they must stay.
  add(set, What::kIoapicVersion, Bus::kIoapic, kIoapicVersionReg, 0x00ff00ff,
      ioapic_read(kIoapicVersionReg));
  for (const Redirection& r : kRedirections) {
    uint16_t index = static_cast<uint16_t>(kIoapicRedirReg + 2 * r.pin);
    ioapic_write(index + 1, r.high);
    ioapic_write(index, r.low);
    add(set, What::kIoapicRedir, Bus::kIoapic, index, kRedirLowBits, r.low);
    add(set, What::kIoapicRedir, Bus::kIoapic, index + 1, kRedirHighBits, r.high);
  }

  pit_program(kPitMode2LoHi, kPitReload);
  add(set, What::kPitMode, Bus::kPitStatus, 0, kPitStatusBits, kPitMode2LoHi);
}

void pit_latch() {
  x86::outb(kPitCommand, kPitLatchChannel0);
}

uint32_t pit_read_latched() {
  uint32_t low = x86::inb(kPitChannel0);
  return low | static_cast<uint32_t>(x86::inb(kPitChannel0)) << 8;
}

bool perturb(What what, int cpu) {
  const Redirection& first = kRedirections[0];
  switch (what) {
    case What::kLapicLvt:
      lapic::write(kLvtTimer, kLvtMasked | kLvtPeriodic | (timer_vector(cpu) ^ 1));
      return true;
    case What::kLapicDivide:
      lapic::write(kDivideConfig, 0x3);  // divide by 16
      return true;
    case What::kLapicInitial:
      lapic::write(kInitialCount, initial_count(cpu) - 1);
      return true;
    case What::kLapicCount:  // the same initial count: the timer starts over from the top
      lapic::write(kInitialCount, initial_count(cpu));
      return true;
    case What::kIoapicRedir:
      ioapic_write(static_cast<uint16_t>(kIoapicRedirReg + 2 * first.pin), first.low ^ 1);
      return true;
    case What::kIoapicId:
      ioapic_write(kIoapicIdReg, (kIoapicId ^ 1) << 24);
      return true;
    case What::kPitMode:
      pit_program(kPitMode3LoHi, kPitReload);
      return true;
    case What::kPitCount:  // same mode, shorter period: the count wraps early
      pit_program(kPitMode2LoHi, kPitReload - 7000);
      return true;
    case What::kPicImr:
      // Unmasks IRQ 8 on the slave only; its way on (master IRQ 2) stays masked.
      x86::outb(kPicSlaveData, 0xfe);
      return true;
    default:
      return false;
  }
}

}  // namespace guest::devstate
