// How PCI functions raise interrupts. A device sees only InterruptSink (MSI-X
// vectors and its INTx line); KvmInterrupts delivers them through KVM:
//  - each MSI-X vector is an eventfd bound with KVM_IRQFD to a GSI of its
//    own, whose KVM_SET_GSI_ROUTING entry holds the vector's MSI message, so
//    a worker thread signals the guest without a vCPU exit or an ioctl;
//  - INTx is a level on an IOAPIC pin driven with KVM_IRQ_LINE: asserted while
//    the device's ISR is non-zero, deasserted when the guest reads the ISR
//    (reading clears it), the virtio rule. KVM_IRQ_LINE is simpler than an
//    irqfd with a resample fd and INTx is only the fallback path.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "base/event_fd.h"
#include "base/result.h"
#include "kvm/vm.h"

namespace ferry {

class InterruptSink {
 public:
  virtual ~InterruptSink() = default;
  // Points vector `index` at the MSI message (address, data) the guest wrote.
  virtual Status RouteVector(uint16_t index, uint64_t address, uint32_t data) = 0;
  virtual void FireVector(uint16_t index) = 0;
  virtual void SetIntx(bool asserted) = 0;
};

// The VM-wide GSI routing table. KVM_SET_GSI_ROUTING replaces KVM's whole
// default table, so this keeps KVM's default irqchip entries for GSIs 0-23
// (PIC and IOAPIC pins) and adds MSI routes from GSI 24 up.
class MsiRouter {
 public:
  explicit MsiRouter(Vm& vm) : vm_(vm) {}
  uint32_t AllocateGsi();
  Status SetMsi(uint32_t gsi, uint64_t address, uint32_t data);

 private:
  Vm& vm_;
  std::mutex mu_;
  uint32_t next_gsi_ = 24;
  std::map<uint32_t, kvm_irq_routing_entry> msi_;
};

class KvmInterrupts final : public InterruptSink {
 public:
  // `intx_gsi` 0: the function has no INTx line.
  static Result<std::unique_ptr<KvmInterrupts>> Create(Vm& vm, MsiRouter& router, uint16_t vectors,
                                                       uint32_t intx_gsi);
  ~KvmInterrupts() override;

  Status RouteVector(uint16_t index, uint64_t address, uint32_t data) override;
  void FireVector(uint16_t index) override;
  void SetIntx(bool asserted) override;

 private:
  KvmInterrupts(Vm& vm, MsiRouter& router, uint32_t intx_gsi)
      : vm_(vm), router_(router), intx_gsi_(intx_gsi) {}
  Vm& vm_;
  MsiRouter& router_;
  uint32_t intx_gsi_;
  std::vector<EventFd> vector_fds_;
  std::vector<uint32_t> vector_gsis_;
};

}  // namespace ferry
