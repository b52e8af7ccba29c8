// A KVM vCPU: its fd, its shared kvm_run page and the register ioctls.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "base/fd.h"
#include "base/mapping.h"
#include "base/result.h"

namespace ferry {

class Vcpu {
 public:
  Vcpu(uint32_t id, Fd fd, Mapping run) : id_(id), fd_(std::move(fd)), run_(std::move(run)) {}

  uint32_t id() const { return id_; }
  kvm_run* run() const { return reinterpret_cast<kvm_run*>(run_.data()); }

  // Enters the guest. Returns kUnavailable when a signal interrupted KVM_RUN
  // (the caller looks at why it was kicked), any other error is fatal.
  Status Run();

  Result<kvm_regs> GetRegs() const;
  Status SetRegs(const kvm_regs& regs);
  Result<kvm_sregs> GetSregs() const;
  Status SetSregs(const kvm_sregs& sregs);
  Status SetCpuid(const std::vector<kvm_cpuid_entry2>& entries);
  Status SetMsrs(const std::vector<kvm_msr_entry>& msrs);
  Status SetFpu(const kvm_fpu& fpu);
  Result<kvm_mp_state> GetMpState() const;
  Result<kvm_lapic_state> GetLapic() const;
  Status SetLapic(const kvm_lapic_state& lapic);

 private:
  uint32_t id_;
  Fd fd_;
  Mapping run_;
};

}  // namespace ferry
