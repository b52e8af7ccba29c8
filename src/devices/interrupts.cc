#include "devices/interrupts.h"

#include <cstdio>

namespace ferry {
namespace {

constexpr uint32_t kIrqchipPins = 24;

kvm_irq_routing_entry IrqchipEntry(uint32_t gsi, uint32_t chip, uint32_t pin) {
  kvm_irq_routing_entry e{};
  e.gsi = gsi;
  e.type = KVM_IRQ_ROUTING_IRQCHIP;
  e.u.irqchip.irqchip = chip;
  e.u.irqchip.pin = pin;
  return e;
}

}  // namespace

uint32_t MsiRouter::AllocateGsi() {
  std::lock_guard lock(mu_);
  return next_gsi_++;
}

Status MsiRouter::SetMsi(uint32_t gsi, uint64_t address, uint32_t data) {
  std::lock_guard lock(mu_);
  kvm_irq_routing_entry e{};
  e.gsi = gsi;
  e.type = KVM_IRQ_ROUTING_MSI;
  e.u.msi.address_lo = static_cast<uint32_t>(address);
  e.u.msi.address_hi = static_cast<uint32_t>(address >> 32);
  e.u.msi.data = data;
  msi_[gsi] = e;
  // KVM's default x86 table (arch/x86/kvm/irq_comm.c): every GSI below 24
  // on the IOAPIC pin of the same number, the first 16 also on the PICs.
  std::vector<kvm_irq_routing_entry> table;
  for (uint32_t gsi_pin = 0; gsi_pin < kIrqchipPins; ++gsi_pin) {
    table.push_back(IrqchipEntry(gsi_pin, KVM_IRQCHIP_IOAPIC, gsi_pin));
    if (gsi_pin < 16) {
      table.push_back(IrqchipEntry(
          gsi_pin, gsi_pin < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi_pin % 8));
    }
  }
  for (const auto& [_, entry] : msi_) table.push_back(entry);
  return vm_.SetGsiRouting(table);
}

Result<std::unique_ptr<KvmInterrupts>> KvmInterrupts::Create(Vm& vm, MsiRouter& router,
                                                             uint16_t vectors, uint32_t intx_gsi) {
  std::unique_ptr<KvmInterrupts> sink(new KvmInterrupts(vm, router, intx_gsi));
  for (uint16_t i = 0; i < vectors; ++i) {
    ASSIGN_OR_RETURN(EventFd fd, EventFd::Create());
    uint32_t gsi = router.AllocateGsi();
    RETURN_IF_ERROR(vm.AssignIrqfd(fd.get(), gsi));
    sink->vector_fds_.push_back(std::move(fd));
    sink->vector_gsis_.push_back(gsi);
  }
  return sink;
}

KvmInterrupts::~KvmInterrupts() {
  for (size_t i = 0; i < vector_fds_.size(); ++i) {
    (void)vm_.DeassignIrqfd(vector_fds_[i].get(), vector_gsis_[i]);
  }
}

Status KvmInterrupts::RouteVector(uint16_t index, uint64_t address, uint32_t data) {
  if (index >= vector_gsis_.size()) return OkStatus();
  return router_.SetMsi(vector_gsis_[index], address, data);
}

void KvmInterrupts::FireVector(uint16_t index) {
  if (index < vector_fds_.size()) vector_fds_[index].Signal();
}

void KvmInterrupts::SetIntx(bool asserted) {
  if (intx_gsi_ == 0) return;
  Status done = vm_.SetIrqLine(intx_gsi_, asserted);
  if (!done.ok()) std::fprintf(stderr, "ferry: INTx: %s\n", done.error().message().c_str());
}

}  // namespace ferry
