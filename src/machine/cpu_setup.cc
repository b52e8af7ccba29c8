#include "machine/cpu_setup.h"

#include <cstring>

#include "machine/layout.h"

namespace ferry {
namespace {

constexpr uint32_t kCpuidHypervisorBit = 1u << 31;  // leaf 1 ECX
constexpr uint32_t kLapicLint0 = 0x350;
constexpr uint32_t kLapicLint1 = 0x360;
constexpr uint32_t kDeliveryExtInt = 0x7 << 8;
constexpr uint32_t kDeliveryNmi = 0x4 << 8;

constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

kvm_segment FlatSegment(uint16_t selector, uint8_t type, bool code64) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.s = 1;
  s.g = 1;
  s.l = code64 ? 1 : 0;
  s.db = code64 ? 0 : 1;
  return s;
}

void SetLvtDelivery(kvm_lapic_state& lapic, uint32_t offset, uint32_t mode) {
  uint32_t value;
  std::memcpy(&value, lapic.regs + offset, 4);
  value = (value & ~0x700u) | mode;
  std::memcpy(lapic.regs + offset, &value, 4);
}

}  // namespace

std::vector<kvm_cpuid_entry2> CpuidForVcpu(const std::vector<kvm_cpuid_entry2>& supported,
                                           uint32_t vcpu_id, uint32_t cpu_count) {
  std::vector<kvm_cpuid_entry2> entries = supported;
  for (kvm_cpuid_entry2& e : entries) {
    switch (e.function) {
      case 1:
        e.ebx = (e.ebx & 0x0000ffffu) | (vcpu_id << 24) | ((cpu_count & 0xff) << 16);
        e.ecx |= kCpuidHypervisorBit;
        break;
      case 0xb:
      case 0x1f:
        e.edx = vcpu_id;  // x2APIC id
        break;
      default:
        break;
    }
  }
  return entries;
}

Status SetupVcpu(Vcpu& vcpu, const std::vector<kvm_cpuid_entry2>& supported, uint32_t cpu_count) {
  RETURN_IF_ERROR(vcpu.SetCpuid(CpuidForVcpu(supported, vcpu.id(), cpu_count)));
  // As a PC wires them: the 8259 reaches the CPU through LINT0, NMIs through LINT1.
  ASSIGN_OR_RETURN(kvm_lapic_state lapic, vcpu.GetLapic());
  SetLvtDelivery(lapic, kLapicLint0, kDeliveryExtInt);
  SetLvtDelivery(lapic, kLapicLint1, kDeliveryNmi);
  RETURN_IF_ERROR(vcpu.SetLapic(lapic));
  kvm_fpu fpu{};
  fpu.fcw = 0x37f;
  fpu.mxcsr = 0x1f80;
  return vcpu.SetFpu(fpu);
}

Status SetupBootRegisters(Vcpu& vcpu, const BootPlan& plan) {
  ASSIGN_OR_RETURN(kvm_sregs sregs, vcpu.GetSregs());
  kvm_regs regs{};
  regs.rflags = 0x2;
  regs.rip = plan.entry_point;
  switch (plan.entry) {
    case BootPlan::Entry::kPvh32: {
      // PVH: 32-bit flat protected mode, paging off (xen/include/public/arch-x86/hvm/start_info.h).
      kvm_segment code = FlatSegment(0x8, 0xb, false);
      kvm_segment data = FlatSegment(0x10, 0x3, false);
      sregs.cs = code;
      sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
      sregs.cr0 = kCr0Pe | kCr0Et;
      sregs.cr4 = 0;
      sregs.efer = 0;
      regs.rbx = plan.boot_info;
      break;
    }
    case BootPlan::Entry::kLinux64: {
      // The 64-bit boot protocol: long mode, identity mapping, __BOOT_CS/__BOOT_DS.
      kvm_segment code = FlatSegment(0x10, 0xb, true);
      kvm_segment data = FlatSegment(0x18, 0x3, false);
      sregs.cs = code;
      sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
      sregs.gdt.base = layout::kBootGdt;
      sregs.gdt.limit = 4 * 8 - 1;
      sregs.cr3 = layout::kPml4;
      sregs.cr4 = kCr4Pae;
      sregs.cr0 = kCr0Pe | kCr0Et | kCr0Pg;
      sregs.efer = kEferLme | kEferLma;
      regs.rsi = plan.boot_info;
      break;
    }
  }
  RETURN_IF_ERROR(vcpu.SetSregs(sregs));
  return vcpu.SetRegs(regs);
}

}  // namespace ferry
