#include "vm/compatibility.h"

#include "base/units.h"
#include "kvm/kvm.h"
#include "machine/guest_memory.h"
#include "state/cpu_compat.h"

namespace ferry {

Status CheckHostCanRun(const state::MachineConfig& config) {
  ASSIGN_OR_RETURN(Kvm kvm, Kvm::Open());
  if (config.cpus > static_cast<uint32_t>(kvm.max_vcpus())) {
    return Error(ErrorCode::kResourceExhausted, "the guest has " + std::to_string(config.cpus) +
                                                    " vCPUs, more than this host's KVM allows");
  }
  ASSIGN_OR_RETURN(uint64_t host_bytes, HostMemoryBytes());
  if (config.memory_bytes > host_bytes) {
    return Error(ErrorCode::kResourceExhausted, "the guest has " + FormatSize(config.memory_bytes) +
                                                    " of RAM, more than this host's " +
                                                    FormatSize(host_bytes));
  }
  ASSIGN_OR_RETURN(std::vector<kvm_cpuid_entry2> supported, kvm.SupportedCpuid());
  std::vector<std::string> missing = state::MissingCpuFeatures(config.cpuid, supported);
  if (missing.empty()) return OkStatus();
  std::string list;
  for (const std::string& name : missing) list += (list.empty() ? "" : ", ") + name;
  return Error(ErrorCode::kFailedPrecondition,
               "this host cannot offer CPU features the guest uses: " + list +
                   " (the guest would lose them; use a host that has them)");
}

}  // namespace ferry
