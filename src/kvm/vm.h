// A KVM virtual machine file descriptor: memory slots, in-kernel chips, vCPUs.
#pragma once

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <span>

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

  // VM-wide device state of the in-kernel chips and the clock.
  Result<kvm_irqchip> GetIrqchip(uint32_t chip_id) const;  // KVM_IRQCHIP_PIC_MASTER/SLAVE/IOAPIC
  Status SetIrqchip(const kvm_irqchip& chip);
  Result<kvm_pit_state2> GetPit() const;
  Status SetPit(const kvm_pit_state2& pit);
  Result<kvm_clock_data> GetClock() const;
  Status SetClock(const kvm_clock_data& clock);

  Status EnableCap(uint32_t capability, uint64_t arg0);
  // Dirty logging with manual protect: Get copies the slot's bitmap (one bit
  // per page written since its bit was last cleared); Clear re-protects the
  // pages whose bits are set in `bitmap`, starting at `first_page` (a multiple of 64).
  Status GetDirtyLog(uint32_t slot, uint64_t* bitmap);
  Status ClearDirtyLog(uint32_t slot, uint64_t first_page, uint32_t num_pages, uint64_t* bitmap);

  // Interrupt plumbing for devices (src/devices/irq_routing.h). The routing
  // table replaces KVM's default one as a whole, so it must repeat the
  // IOAPIC/PIC entries it wants to keep.
  Status SetGsiRouting(std::span<const kvm_irq_routing_entry> entries);
  // Signalling `eventfd` injects `gsi` (an edge, or an MSI through its route).
  Status AssignIrqfd(int eventfd, uint32_t gsi);
  Status DeassignIrqfd(int eventfd, uint32_t gsi);
  // Drives a level-triggered line of the in-kernel PIC/IOAPIC.
  Status SetIrqLine(uint32_t gsi, bool level);
  // A guest MMIO write of `len` bytes at `address` signals `eventfd` inside
  // KVM instead of exiting to userspace.
  Status AssignMmioEventfd(int eventfd, uint64_t address, uint32_t len);
  Status DeassignMmioEventfd(int eventfd, uint64_t address, uint32_t len);

  int fd() const { return fd_.get(); }

 private:
  Fd fd_;
  size_t vcpu_mmap_size_;
};

}  // namespace ferry
