#include "kvm/kvm.h"

#include "kvm/abi.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>

namespace ferry {
namespace {

struct RequiredCap {
  long cap;
  const char* name;
};

constexpr RequiredCap kRequiredCaps[] = {
    {KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP"},
    {KVM_CAP_PIT2, "KVM_CAP_PIT2"},
    {KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
    {KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
    {KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
};

}  // namespace

Result<Kvm> Kvm::Open() {
  int raw = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (raw < 0) {
    int err = errno;
    if (err == ENOENT) {
      return Error(ErrorCode::kNotFound,
                   "/dev/kvm does not exist: this host has no KVM (load kvm-intel or kvm-amd)");
    }
    if (err == EACCES || err == EPERM) {
      return Error(ErrorCode::kPermissionDenied,
                   "no access to /dev/kvm: run as root or add this user to the 'kvm' group");
    }
    return ErrnoError("open /dev/kvm", err);
  }
  Fd fd(raw);
  int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return Error(ErrorCode::kFailedPrecondition, "/dev/kvm speaks API version " +
                                                     std::to_string(version) + ", ferry needs " +
                                                     std::to_string(KVM_API_VERSION));
  }
  for (const RequiredCap& required : kRequiredCaps) {
    if (::ioctl(fd.get(), KVM_CHECK_EXTENSION, required.cap) <= 0) {
      return Error(ErrorCode::kFailedPrecondition,
                   std::string("this KVM lacks ") + required.name + ", which ferry needs");
    }
  }
  int mmap_size = ::ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (mmap_size <= 0) return ErrnoError("KVM_GET_VCPU_MMAP_SIZE");
  return Kvm(std::move(fd), static_cast<size_t>(mmap_size));
}

int Kvm::CheckExtension(long capability) const {
  int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, capability);
  return r < 0 ? 0 : r;
}

int Kvm::max_vcpus() const {
  int max = CheckExtension(KVM_CAP_MAX_VCPUS);
  if (max <= 0) max = CheckExtension(KVM_CAP_NR_VCPUS);
  return max > 0 ? max : 4;
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::SupportedCpuid() const {
  for (size_t capacity = 128; capacity <= 4096; capacity *= 2) {
    kvm_abi::FlexBuffer<kvm_abi::CpuidHeader, kvm_cpuid_entry2> buffer(capacity);
    buffer.header()->nent = static_cast<uint32_t>(capacity);
    if (::ioctl(fd_.get(), kvm_abi::kGetSupportedCpuid, buffer.data()) == 0) {
      return std::vector<kvm_cpuid_entry2>(buffer.items(), buffer.items() + buffer.header()->nent);
    }
    if (errno != E2BIG) return ErrnoError("KVM_GET_SUPPORTED_CPUID");
  }
  return Error(ErrorCode::kInternal, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

Result<std::vector<uint32_t>> Kvm::MsrIndexList() const {
  kvm_abi::MsrListHeader probe{0};
  if (::ioctl(fd_.get(), kvm_abi::kGetMsrIndexList, &probe) < 0 && errno != E2BIG) {
    return ErrnoError("KVM_GET_MSR_INDEX_LIST");
  }
  kvm_abi::FlexBuffer<kvm_abi::MsrListHeader, uint32_t> buffer(probe.nmsrs);
  buffer.header()->nmsrs = probe.nmsrs;
  if (::ioctl(fd_.get(), kvm_abi::kGetMsrIndexList, buffer.data()) < 0) {
    return ErrnoError("KVM_GET_MSR_INDEX_LIST");
  }
  return std::vector<uint32_t>(buffer.items(), buffer.items() + buffer.header()->nmsrs);
}

Result<Vm> Kvm::CreateVm() const {
  int raw = ::ioctl(fd_.get(), KVM_CREATE_VM, 0);
  if (raw < 0) return ErrnoError("KVM_CREATE_VM");
  return Vm(Fd(raw), vcpu_mmap_size_);
}

}  // namespace ferry
