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

namespace {

template <typename T>
Result<T> GetStruct(int fd, unsigned long request, const char* name) {
  T value{};
  if (::ioctl(fd, request, &value) < 0) return ErrnoError(name);
  return value;
}

template <typename T>
Status SetStruct(int fd, unsigned long request, const T& value, const char* name) {
  if (::ioctl(fd, request, &value) < 0) return ErrnoError(name);
  return OkStatus();
}

}  // namespace

Status Vcpu::SetMpState(const kvm_mp_state& state) {
  return SetStruct(fd_.get(), KVM_SET_MP_STATE, state, "KVM_SET_MP_STATE");
}

Result<std::vector<uint8_t>> Vcpu::GetXsave() const {
  std::vector<uint8_t> area(sizeof(kvm_abi::Xsave));
  if (::ioctl(fd_.get(), kvm_abi::kGetXsave, area.data()) < 0) return ErrnoError("KVM_GET_XSAVE");
  return area;
}

Status Vcpu::SetXsave(const std::vector<uint8_t>& area) {
  if (area.size() != sizeof(kvm_abi::Xsave)) {
    return Error(ErrorCode::kInvalidArgument, "XSAVE area is " + std::to_string(area.size()) +
                                                  " bytes, KVM takes " +
                                                  std::to_string(sizeof(kvm_abi::Xsave)));
  }
  if (::ioctl(fd_.get(), kvm_abi::kSetXsave, area.data()) < 0) return ErrnoError("KVM_SET_XSAVE");
  return OkStatus();
}

Result<kvm_xcrs> Vcpu::GetXcrs() const {
  return GetStruct<kvm_xcrs>(fd_.get(), KVM_GET_XCRS, "KVM_GET_XCRS");
}

Status Vcpu::SetXcrs(const kvm_xcrs& xcrs) {
  return SetStruct(fd_.get(), KVM_SET_XCRS, xcrs, "KVM_SET_XCRS");
}

Result<kvm_vcpu_events> Vcpu::GetEvents() const {
  return GetStruct<kvm_vcpu_events>(fd_.get(), KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS");
}

Status Vcpu::SetEvents(const kvm_vcpu_events& events) {
  return SetStruct(fd_.get(), KVM_SET_VCPU_EVENTS, events, "KVM_SET_VCPU_EVENTS");
}

Result<kvm_debugregs> Vcpu::GetDebugRegs() const {
  return GetStruct<kvm_debugregs>(fd_.get(), KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS");
}

Status Vcpu::SetDebugRegs(const kvm_debugregs& regs) {
  return SetStruct(fd_.get(), KVM_SET_DEBUGREGS, regs, "KVM_SET_DEBUGREGS");
}

Result<std::vector<kvm_cpuid_entry2>> Vcpu::GetCpuid() const {
  constexpr size_t kCapacity = 512;
  kvm_abi::FlexBuffer<kvm_abi::CpuidHeader, kvm_cpuid_entry2> buffer(kCapacity);
  buffer.header()->nent = kCapacity;
  if (::ioctl(fd_.get(), kvm_abi::kGetCpuid2, buffer.data()) < 0)
    return ErrnoError("KVM_GET_CPUID2");
  return std::vector<kvm_cpuid_entry2>(buffer.items(), buffer.items() + buffer.header()->nent);
}

Result<std::vector<kvm_msr_entry>> Vcpu::GetMsrs(const std::vector<uint32_t>& indices) const {
  std::vector<kvm_msr_entry> result;
  // KVM_GET_MSRS stops at the first MSR it cannot read; skip it and go on.
  size_t next = 0;
  while (next < indices.size()) {
    size_t count = indices.size() - next;
    kvm_abi::FlexBuffer<kvm_abi::MsrsHeader, kvm_msr_entry> buffer(count);
    buffer.header()->nmsrs = static_cast<uint32_t>(count);
    for (size_t i = 0; i < count; ++i) buffer.items()[i].index = indices[next + i];
    int read = ::ioctl(fd_.get(), kvm_abi::kGetMsrs, buffer.data());
    if (read < 0) return ErrnoError("KVM_GET_MSRS");
    result.insert(result.end(), buffer.items(), buffer.items() + read);
    next += static_cast<size_t>(read) + 1;
  }
  return result;
}

}  // namespace ferry
