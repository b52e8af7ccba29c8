// The state a vCPU starts in: its CPUID view, its LAPIC wiring and, for the
// boot CPU, the registers of the entry protocol.
#pragma once

#include <linux/kvm.h>

#include <vector>

#include "base/result.h"
#include "kvm/vcpu.h"
#include "machine/boot_loader.h"

namespace ferry {

// KVM's supported CPUID adjusted for one vCPU of `cpu_count`: its APIC id,
// the hypervisor bit, and the topology leaves.
std::vector<kvm_cpuid_entry2> CpuidForVcpu(const std::vector<kvm_cpuid_entry2>& supported,
                                           uint32_t vcpu_id, uint32_t cpu_count);

// CPUID and LAPIC for every vCPU. Application processors then wait in KVM for
// INIT/SIPI from the boot CPU, as on real hardware.
Status SetupVcpu(Vcpu& vcpu, const std::vector<kvm_cpuid_entry2>& supported, uint32_t cpu_count);

// Registers for the boot CPU to enter the kernel as `plan` says.
Status SetupBootRegisters(Vcpu& vcpu, const BootPlan& plan);

}  // namespace ferry
