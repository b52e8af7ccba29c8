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
  int fd() const { return fd_.get(); }

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
  Status SetMpState(const kvm_mp_state& state);
  Result<std::vector<uint8_t>> GetXsave() const;  // the 4 KiB legacy KVM_GET_XSAVE area
  Status SetXsave(const std::vector<uint8_t>& area);
  Result<kvm_xcrs> GetXcrs() const;
  Status SetXcrs(const kvm_xcrs& xcrs);
  Result<kvm_vcpu_events> GetEvents() const;
  Status SetEvents(const kvm_vcpu_events& events);
  Result<kvm_debugregs> GetDebugRegs() const;
  Status SetDebugRegs(const kvm_debugregs& regs);
  Result<std::vector<kvm_cpuid_entry2>> GetCpuid() const;
  // Reads the given MSRs; MSRs KVM cannot read are left out of the result.
  Result<std::vector<kvm_msr_entry>> GetMsrs(const std::vector<uint32_t>& indices) const;

 private:
  uint32_t id_;
  Fd fd_;
  Mapping run_;
};

}  // namespace ferry
