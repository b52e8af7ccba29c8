// A KVM virtual machine file descriptor: memory slots, in-kernel chips, vCPUs.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>

#include "base/fd.h"
#include "base/result.h"
#include "kvm/vcpu.h"

namespace ferry {

class Vm {
 public:
  Vm(Fd fd, size_t vcpu_mmap_size) : fd_(std::move(fd)), vcpu_mmap_size_(vcpu_mmap_size) {}

  Status SetUserMemoryRegion(uint32_t slot, uint32_t flags, uint64_t guest_phys_addr, uint64_t size,
                             void* host_addr);
  // In-kernel PIC, IOAPIC and LAPICs, and the PIT: the guest's timers and
  // interrupt routing never leave the kernel.
  Status CreateIrqchipAndPit();
  Status SetTssAddress(uint64_t address);
  Status SetIdentityMapAddress(uint64_t address);
  Result<Vcpu> CreateVcpu(uint32_t id);

  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
  size_t vcpu_mmap_size_;
};

}  // namespace ferry
