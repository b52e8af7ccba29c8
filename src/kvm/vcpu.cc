#include "kvm/vcpu.h"

#include "kvm/abi.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>

namespace ferry {

Status Vcpu::Run() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) return OkStatus();
  int err = errno;
  if (err == EINTR || err == EAGAIN) return Error(ErrorCode::kUnavailable, "KVM_RUN interrupted");
  return ErrnoError("KVM_RUN on vCPU " + std::to_string(id_), err);
}

Result<kvm_regs> Vcpu::GetRegs() const {
  kvm_regs regs{};
  if (::ioctl(fd_.get(), KVM_GET_REGS, &regs) < 0) return ErrnoError("KVM_GET_REGS");
  return regs;
}

Status Vcpu::SetRegs(const kvm_regs& regs) {
  if (::ioctl(fd_.get(), KVM_SET_REGS, &regs) < 0) return ErrnoError("KVM_SET_REGS");
  return OkStatus();
}

Result<kvm_sregs> Vcpu::GetSregs() const {
  kvm_sregs sregs{};
  if (::ioctl(fd_.get(), KVM_GET_SREGS, &sregs) < 0) return ErrnoError("KVM_GET_SREGS");
  return sregs;
}

Status Vcpu::SetSregs(const kvm_sregs& sregs) {
  if (::ioctl(fd_.get(), KVM_SET_SREGS, &sregs) < 0) return ErrnoError("KVM_SET_SREGS");
  return OkStatus();
}

Status Vcpu::SetCpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  kvm_abi::FlexBuffer<kvm_abi::CpuidHeader, kvm_cpuid_entry2> buffer(entries.size());
  buffer.header()->nent = static_cast<uint32_t>(entries.size());
  std::copy(entries.begin(), entries.end(), buffer.items());
  if (::ioctl(fd_.get(), kvm_abi::kSetCpuid2, buffer.data()) < 0)
    return ErrnoError("KVM_SET_CPUID2");
  return OkStatus();
}

Status Vcpu::SetMsrs(const std::vector<kvm_msr_entry>& msrs) {
  kvm_abi::FlexBuffer<kvm_abi::MsrsHeader, kvm_msr_entry> buffer(msrs.size());
  buffer.header()->nmsrs = static_cast<uint32_t>(msrs.size());
  std::copy(msrs.begin(), msrs.end(), buffer.items());
  int written = ::ioctl(fd_.get(), kvm_abi::kSetMsrs, buffer.data());
  if (written < 0) return ErrnoError("KVM_SET_MSRS");
  if (static_cast<size_t>(written) != msrs.size()) {
    return Error(
        ErrorCode::kInternal,
        "KVM_SET_MSRS refused MSR " + std::to_string(msrs[static_cast<size_t>(written)].index));
  }
  return OkStatus();
}

Status Vcpu::SetFpu(const kvm_fpu& fpu) {
  if (::ioctl(fd_.get(), KVM_SET_FPU, &fpu) < 0) return ErrnoError("KVM_SET_FPU");
  return OkStatus();
}

Result<kvm_mp_state> Vcpu::GetMpState() const {
  kvm_mp_state state{};
  if (::ioctl(fd_.get(), KVM_GET_MP_STATE, &state) < 0) return ErrnoError("KVM_GET_MP_STATE");
  return state;
}

Result<kvm_lapic_state> Vcpu::GetLapic() const {
  kvm_lapic_state lapic{};
  if (::ioctl(fd_.get(), KVM_GET_LAPIC, &lapic) < 0) return ErrnoError("KVM_GET_LAPIC");
  return lapic;
}

Status Vcpu::SetLapic(const kvm_lapic_state& lapic) {
  if (::ioctl(fd_.get(), KVM_SET_LAPIC, &lapic) < 0) return ErrnoError("KVM_SET_LAPIC");
  return OkStatus();
}

}  // namespace ferry
