#include "kvm/dirty_ring.h"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace ferry {

Result<uint32_t> EnableDirtyRing(Vm& vm, uint32_t entries, uint32_t default_entries) {
  // Both flavours use the same ring; ACQ_REL is the one for weakly ordered
  // hosts and the one newer kernels prefer, so take it when offered.
  uint32_t cap = KVM_CAP_DIRTY_LOG_RING_ACQ_REL;
  int max_bytes = ::ioctl(vm.fd(), KVM_CHECK_EXTENSION, cap);
  if (max_bytes <= 0) {
    cap = KVM_CAP_DIRTY_LOG_RING;
    max_bytes = ::ioctl(vm.fd(), KVM_CHECK_EXTENSION, cap);
  }
  if (max_bytes <= 0) {
    return Error(
        ErrorCode::kUnimplemented,
        "this KVM offers no dirty ring (KVM_CAP_DIRTY_LOG_RING); use --dirty-tracking log");
  }
  uint64_t max_entries = static_cast<uint64_t>(max_bytes) / sizeof(kvm_dirty_gfn);
  if (entries == 0) {
    entries = default_entries;
    while (entries > max_entries && entries > 256) entries /= 2;
  }
  uint64_t bytes = uint64_t{entries} * sizeof(kvm_dirty_gfn);
  if (entries == 0 || (entries & (entries - 1)) != 0 || bytes < 4096 ||
      bytes > static_cast<uint64_t>(max_bytes)) {
    return Error(ErrorCode::kInvalidArgument,
                 "a dirty ring of " + std::to_string(entries) +
                     " entries: this KVM takes a power of two from 256 to " +
                     std::to_string(max_entries));
  }
  RETURN_IF_ERROR(vm.EnableCap(cap, bytes));
  return entries;
}

Result<uint64_t> ResetDirtyRings(Vm& vm) {
  int reset = ::ioctl(vm.fd(), KVM_RESET_DIRTY_RINGS, 0);
  if (reset < 0) return ErrnoError("KVM_RESET_DIRTY_RINGS");
  return static_cast<uint64_t>(reset);
}

Result<VcpuDirtyRing> VcpuDirtyRing::Map(int vcpu_fd, uint32_t entries) {
  off_t offset = static_cast<off_t>(KVM_DIRTY_LOG_PAGE_OFFSET) * ::sysconf(_SC_PAGESIZE);
  ASSIGN_OR_RETURN(Mapping mapping, Mapping::File(vcpu_fd, size_t{entries} * sizeof(kvm_dirty_gfn),
                                                  offset, PROT_READ | PROT_WRITE, MAP_SHARED));
  return VcpuDirtyRing(std::move(mapping), entries);
}

}  // namespace ferry
