// Thin RAII wrappers over the /dev/kvm system ioctls.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "kvm/vm.h"

namespace ferry {

class Kvm {
 public:
  // Opens /dev/kvm and checks the API version and the capabilities ferry relies on.
  static Result<Kvm> Open();

  int CheckExtension(long capability) const;
  int max_vcpus() const;
  Result<std::vector<kvm_cpuid_entry2>> SupportedCpuid() const;
  Result<std::vector<uint32_t>> MsrIndexList() const;
  Result<Vm> CreateVm() const;

 private:
  explicit Kvm(Fd fd, size_t vcpu_mmap_size)
      : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}
  Fd fd_;
  size_t vcpu_mmap_size_;
};

}  // namespace ferry
