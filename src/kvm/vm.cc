#include "kvm/vm.h"

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>

#include "kvm/abi.h"

namespace ferry {

Status Vm::SetUserMemoryRegion(uint32_t slot, uint32_t flags, uint64_t guest_phys_addr,
                               uint64_t size, void* host_addr) {
  kvm_userspace_memory_region region{};
  region.slot = slot;
  region.flags = flags;
  region.guest_phys_addr = guest_phys_addr;
  region.memory_size = size;
  region.userspace_addr = reinterpret_cast<uint64_t>(host_addr);
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    return ErrnoError("KVM_SET_USER_MEMORY_REGION slot " + std::to_string(slot));
  }
  return OkStatus();
}

Status Vm::CreateIrqchipAndPit() {
  if (::ioctl(fd_.get(), KVM_CREATE_IRQCHIP, 0) < 0) return ErrnoError("KVM_CREATE_IRQCHIP");
  kvm_pit_config pit{};
  pit.flags = KVM_PIT_SPEAKER_DUMMY;
  if (::ioctl(fd_.get(), KVM_CREATE_PIT2, &pit) < 0) return ErrnoError("KVM_CREATE_PIT2");
  return OkStatus();
}

Status Vm::SetTssAddress(uint64_t address) {
  if (::ioctl(fd_.get(), KVM_SET_TSS_ADDR, address) < 0) return ErrnoError("KVM_SET_TSS_ADDR");
  return OkStatus();
}

Status Vm::SetIdentityMapAddress(uint64_t address) {
  if (::ioctl(fd_.get(), KVM_SET_IDENTITY_MAP_ADDR, &address) < 0) {
    return ErrnoError("KVM_SET_IDENTITY_MAP_ADDR");
  }
  return OkStatus();
}

Result<Vcpu> Vm::CreateVcpu(uint32_t id) {
  int raw = ::ioctl(fd_.get(), KVM_CREATE_VCPU, id);
  if (raw < 0) return ErrnoError("KVM_CREATE_VCPU " + std::to_string(id));
  Fd fd(raw);
  ASSIGN_OR_RETURN(Mapping run,
                   Mapping::File(fd.get(), vcpu_mmap_size_, 0, PROT_READ | PROT_WRITE, MAP_SHARED));
  return Vcpu(id, std::move(fd), std::move(run));
}

Result<kvm_irqchip> Vm::GetIrqchip(uint32_t chip_id) const {
  kvm_irqchip chip{};
  chip.chip_id = chip_id;
  if (::ioctl(fd_.get(), KVM_GET_IRQCHIP, &chip) < 0) return ErrnoError("KVM_GET_IRQCHIP");
  return chip;
}

Status Vm::SetIrqchip(const kvm_irqchip& chip) {
  if (::ioctl(fd_.get(), KVM_SET_IRQCHIP, &chip) < 0) return ErrnoError("KVM_SET_IRQCHIP");
  return OkStatus();
}

Result<kvm_pit_state2> Vm::GetPit() const {
  kvm_pit_state2 pit{};
  if (::ioctl(fd_.get(), KVM_GET_PIT2, &pit) < 0) return ErrnoError("KVM_GET_PIT2");
  return pit;
}

Status Vm::SetPit(const kvm_pit_state2& pit) {
  if (::ioctl(fd_.get(), KVM_SET_PIT2, &pit) < 0) return ErrnoError("KVM_SET_PIT2");
  return OkStatus();
}

Result<kvm_clock_data> Vm::GetClock() const {
  kvm_clock_data clock{};
  if (::ioctl(fd_.get(), KVM_GET_CLOCK, &clock) < 0) return ErrnoError("KVM_GET_CLOCK");
  return clock;
}

Status Vm::SetClock(const kvm_clock_data& clock) {
  if (::ioctl(fd_.get(), KVM_SET_CLOCK, &clock) < 0) return ErrnoError("KVM_SET_CLOCK");
  return OkStatus();
}

Status Vm::EnableCap(uint32_t capability, uint64_t arg0) {
  kvm_enable_cap cap{};
  cap.cap = capability;
  cap.args[0] = arg0;
  if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &cap) < 0) {
    return ErrnoError("KVM_ENABLE_CAP " + std::to_string(capability));
  }
  return OkStatus();
}

Status Vm::GetDirtyLog(uint32_t slot, uint64_t* bitmap) {
  kvm_dirty_log log{};
  log.slot = slot;
  log.dirty_bitmap = bitmap;
  if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &log) < 0) return ErrnoError("KVM_GET_DIRTY_LOG");
  return OkStatus();
}

Status Vm::ClearDirtyLog(uint32_t slot, uint64_t first_page, uint32_t num_pages, uint64_t* bitmap) {
  kvm_clear_dirty_log clear{};
  clear.slot = slot;
  clear.first_page = first_page;
  clear.num_pages = num_pages;
  clear.dirty_bitmap = bitmap;
  if (::ioctl(fd_.get(), KVM_CLEAR_DIRTY_LOG, &clear) < 0) return ErrnoError("KVM_CLEAR_DIRTY_LOG");
  return OkStatus();
}

Status Vm::SetGsiRouting(std::span<const kvm_irq_routing_entry> entries) {
  kvm_abi::FlexBuffer<kvm_abi::IrqRoutingHeader, kvm_irq_routing_entry> table(entries.size());
  table.header()->nr = static_cast<uint32_t>(entries.size());
  if (!entries.empty()) std::memcpy(table.items(), entries.data(), entries.size_bytes());
  if (::ioctl(fd_.get(), kvm_abi::kSetGsiRouting, table.data()) < 0) {
    return ErrnoError("KVM_SET_GSI_ROUTING");
  }
  return OkStatus();
}

namespace {

Status Irqfd(int vm_fd, int eventfd, uint32_t gsi, uint32_t flags) {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  irqfd.flags = flags;
  if (::ioctl(vm_fd, KVM_IRQFD, &irqfd) < 0)
    return ErrnoError("KVM_IRQFD gsi " + std::to_string(gsi));
  return OkStatus();
}

Status Ioeventfd(int vm_fd, int eventfd, uint64_t address, uint32_t len, uint32_t flags) {
  kvm_ioeventfd io{};
  io.addr = address;
  io.len = len;
  io.fd = eventfd;
  io.flags = flags;
  if (::ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0) return ErrnoError("KVM_IOEVENTFD");
  return OkStatus();
}

}  // namespace

Status Vm::AssignIrqfd(int eventfd, uint32_t gsi) {
  return Irqfd(fd_.get(), eventfd, gsi, 0);
}

Status Vm::DeassignIrqfd(int eventfd, uint32_t gsi) {
  return Irqfd(fd_.get(), eventfd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

Status Vm::SetIrqLine(uint32_t gsi, bool level) {
  kvm_irq_level line{};
  line.irq = gsi;
  line.level = level ? 1 : 0;
  if (::ioctl(fd_.get(), KVM_IRQ_LINE, &line) < 0) return ErrnoError("KVM_IRQ_LINE");
  return OkStatus();
}

Status Vm::AssignMmioEventfd(int eventfd, uint64_t address, uint32_t len) {
  return Ioeventfd(fd_.get(), eventfd, address, len, 0);
}

Status Vm::DeassignMmioEventfd(int eventfd, uint64_t address, uint32_t len) {
  return Ioeventfd(fd_.get(), eventfd, address, len, KVM_IOEVENTFD_FLAG_DEASSIGN);
}

}  // namespace ferry
