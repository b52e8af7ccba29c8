#include "vm/virtual_machine.h"

#include <unistd.h>

#include <algorithm>

#include "base/clock.h"
#include "base/units.h"
#include "machine/boot_loader.h"
#include "machine/cpu_setup.h"
#include "machine/layout.h"
#include "machine/vcpu_loop.h"
#include "vm/block_disk.h"
#include "vm/device_set.h"
#include "vm/kvm_dirty_tracker.h"
#include "vm/throttle.h"

namespace ferry {
namespace {

bool SameCpuid(const std::vector<kvm_cpuid_entry2>& a, const std::vector<kvm_cpuid_entry2>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.function == y.function && x.index == y.index && x.flags == y.flags && x.eax == y.eax &&
           x.ebx == y.ebx && x.ecx == y.ecx && x.edx == y.edx;
  });
}

}  // namespace

Result<std::unique_ptr<VirtualMachine>> VirtualMachine::Build(const VmConfig& config,
                                                              GuestMemory memory) {
  if (config.cpus == 0) {
    return Error(ErrorCode::kInvalidArgument, "--cpus 0: a VM needs at least one CPU");
  }
  ASSIGN_OR_RETURN(Kvm kvm, Kvm::Open());
  uint32_t max_cpus = static_cast<uint32_t>(std::min(kvm.max_vcpus(), 255));
  if (config.cpus > max_cpus) {
    return Error(ErrorCode::kInvalidArgument, "--cpus " + std::to_string(config.cpus) +
                                                  " is more than this KVM allows (" +
                                                  std::to_string(max_cpus) + ")");
  }
  ASSIGN_OR_RETURN(ConsoleSink console, ConsoleSink::Open(config.console));
  ASSIGN_OR_RETURN(Vm vm, kvm.CreateVm());
  std::unique_ptr<VirtualMachine> machine(new VirtualMachine(
      config, std::move(kvm), std::move(vm), std::move(memory), std::move(console)));
  // Only Intel's real-mode emulation uses this page; AMD and PVM ignore it.
  (void)machine->vm_.SetTssAddress(layout::kTssAddress);
  RETURN_IF_ERROR(machine->vm_.CreateIrqchipAndPit());
  if (config.dirty_tracking.ring()) {
    // Before any vCPU exists; the ring replaces the slot bitmaps (and their
    // manual protect, whose "initially set" would leave pages unprotected).
    ASSIGN_OR_RETURN(machine->dirty_rings_,
                     DirtyRings::Enable(machine->vm_, config.dirty_tracking.ring_entries));
  } else {
    // Must be on before any slot logs dirty pages; costs nothing until then.
    machine->manual_dirty_protect_ = EnableManualDirtyProtect(machine->vm_).ok();
  }
  RETURN_IF_ERROR(machine->memory_.RegisterWith(machine->vm_, 0));
  ASSIGN_OR_RETURN(machine->msr_indices_, machine->kvm_.MsrIndexList());
  RETURN_IF_ERROR(machine->CreateVcpus());
  // Keep only the MSRs KVM can actually read, so that capturing the state
  // later is one KVM_GET_MSRS per vCPU (it matters inside the downtime).
  ASSIGN_OR_RETURN(std::vector<kvm_msr_entry> readable,
                   machine->vcpus_[0].GetMsrs(machine->msr_indices_));
  machine->msr_indices_.clear();
  for (const kvm_msr_entry& msr : readable) machine->msr_indices_.push_back(msr.index);
  ASSIGN_OR_RETURN(machine->devices_,
                   DeviceSet::Create(machine->vm_, machine->memory_, config.disks, config.nets,
                                     config.rng, !config.defer_disk_locks));
  machine->device_descriptors_ = machine->devices_->descriptors();
  RETURN_IF_ERROR(machine->WireDevices());
  return machine;
}

Result<std::unique_ptr<VirtualMachine>> VirtualMachine::Create(const VmConfig& config) {
  RETURN_IF_ERROR(CheckKernel(config.kernel));
  ASSIGN_OR_RETURN(GuestMemory memory, GuestMemory::Create(config.memory_bytes));
  ASSIGN_OR_RETURN(std::unique_ptr<VirtualMachine> machine, Build(config, std::move(memory)));
  BootConfig boot{config.kernel, config.cmdline, config.cpus};
  ASSIGN_OR_RETURN(BootPlan plan, LoadKernel(boot, machine->memory_));
  RETURN_IF_ERROR(SetupBootRegisters(machine->vcpus_[0], plan));
  return machine;
}

Result<std::unique_ptr<VirtualMachine>> VirtualMachine::Prepare(const VmConfig& config,
                                                                const state::MachineConfig& machine,
                                                                GuestMemory memory) {
  VmConfig prepared = config;
  prepared.cpus = machine.cpus;
  prepared.memory_bytes = machine.memory_bytes;
  prepared.cmdline = machine.cmdline;
  ASSIGN_OR_RETURN(prepared.rng, DeviceSet::MatchSaved(config.disks, config.nets, machine.devices));
  if (memory.ram_bytes() != machine.memory_bytes) {
    return Error(ErrorCode::kCorrupt, "memory image is " + FormatSize(memory.ram_bytes()) +
                                          " but the machine had " +
                                          FormatSize(machine.memory_bytes));
  }
  return Build(prepared, std::move(memory));
}

Status VirtualMachine::LoadState(const state::MachineState& saved) {
  if (saved.vcpus.size() != vcpus_.size()) {
    return Error(ErrorCode::kCorrupt, "the state has " + std::to_string(saved.vcpus.size()) +
                                          " vCPUs, the VM " + std::to_string(vcpus_.size()));
  }
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    RETURN_IF_ERROR_CTX(RestoreVcpu(vcpus_[i], saved.vcpus[i]),
                        "restoring vCPU " + std::to_string(i));
  }
  // KVM may report a vCPU's CPUID differently from what was set (PVM does);
  // the baseline travels unchanged in the machine section instead.
  guest_cpuid_ = saved.config.cpuid;
  RETURN_IF_ERROR_CTX(RestoreChips(saved), "restoring the interrupt controllers");
  serial_.Restore(saved.serial);
  RETURN_IF_ERROR(devices_->Restore(saved.devices));
  announce_on_start_ = true;
  return OkStatus();
}

Result<std::unique_ptr<VirtualMachine>> VirtualMachine::Restore(const VmConfig& config,
                                                                const state::MachineState& saved,
                                                                GuestMemory memory) {
  ASSIGN_OR_RETURN(std::unique_ptr<VirtualMachine> machine,
                   Prepare(config, saved.config, std::move(memory)));
  RETURN_IF_ERROR(machine->LoadState(saved));
  return machine;
}

VirtualMachine::VirtualMachine(const VmConfig& config, Kvm kvm, Vm vm, GuestMemory memory,
                               ConsoleSink console)
    : config_(config),
      kvm_(std::move(kvm)),
      vm_(std::move(vm)),
      memory_(std::move(memory)),
      console_(std::move(console)),
      serial_(&console_),
      exit_port_([this](uint32_t status) {
        RequestStop({StopReason::Kind::kGuestExit, static_cast<int>(status),
                     "the guest exited with status " + std::to_string(status)});
      }) {}

VirtualMachine::~VirtualMachine() {
  throttle_.reset();
  if (gate_) gate_->Stop({StopReason::Kind::kRequested, 0, "VMM shutting down"});
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  console_.Flush();
}

Status VirtualMachine::CreateVcpus() {
  ASSIGN_OR_RETURN(std::vector<kvm_cpuid_entry2> cpuid, kvm_.SupportedCpuid());
  std::vector<kvm_run*> runs;
  for (uint32_t id = 0; id < config_.cpus; ++id) {
    ASSIGN_OR_RETURN(Vcpu vcpu, vm_.CreateVcpu(id));
    if (dirty_rings_) RETURN_IF_ERROR(dirty_rings_->AddVcpu(vcpu));
    RETURN_IF_ERROR_CTX(SetupVcpu(vcpu, cpuid, config_.cpus), "vCPU " + std::to_string(id));
    ASSIGN_OR_RETURN(setup_cpuid_.emplace_back(), vcpu.GetCpuid());
    if (id == 0) guest_cpuid_ = CpuidForVcpu(cpuid, 0, config_.cpus);
    runs.push_back(vcpu.run());
    vcpus_.push_back(std::move(vcpu));
  }
  gate_ = std::make_unique<RunGate>(std::move(runs));
  return OkStatus();
}

Status VirtualMachine::WireDevices() {
  RETURN_IF_ERROR(ports_.Register(kCom1Base, kSerialPorts, &serial_, "COM1"));
  RETURN_IF_ERROR(ports_.Register(kExitPort, kExitPortWidth, &exit_port_, "exit port"));
  return devices_->Wire(ports_, mmio_);
}

Status VirtualMachine::Start() {
  return StartThreads(VmState::kRunning);
}

Status VirtualMachine::StartPaused() {
  return StartThreads(VmState::kPaused);
}

Status VirtualMachine::StartThreads(VmState state) {
  std::lock_guard lock(state_mu_);
  RETURN_IF_ERROR(CheckTransition(state_, VmState::kRunning));
  if (state == VmState::kPaused) gate_->StartPaused();
  InstallVcpuKickHandler();
  started_ns_ = MonotonicNs();
  // A destination starts parked: its devices wait for the handover's Resume().
  if (state == VmState::kRunning) devices_->Resume();
  VcpuBuses buses{&ports_, &mmio_, dirty_rings_.get()};
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    threads_.emplace_back([this, i, buses] { RunVcpuLoop(vcpus_[i], i, *gate_, buses); });
  }
  if (state == VmState::kRunning) AnnounceIfMoved();
  state_ = state;
  return OkStatus();
}

Status VirtualMachine::Pause() {
  std::lock_guard lock(state_mu_);
  if (gate_->stopping()) state_ = VmState::kStopped;
  RETURN_IF_ERROR(CheckTransition(state_, VmState::kPaused));
  gate_->Pause();
  devices_->Pause();  // after the vCPUs: no new notifications; requests in flight finish
  state_ = VmState::kPaused;
  return OkStatus();
}

Status VirtualMachine::Resume() {
  std::lock_guard lock(state_mu_);
  if (gate_->stopping()) state_ = VmState::kStopped;
  RETURN_IF_ERROR(CheckTransition(state_, VmState::kRunning));
  // After a handover that did not happen, the disks come back first.
  if (devices_->disks_released()) RETURN_IF_ERROR(devices_->ClaimDisks());
  devices_->Resume();
  gate_->Resume();
  AnnounceIfMoved();  // a parked migration destination runs for the first time
  state_ = VmState::kRunning;
  return OkStatus();
}

void VirtualMachine::AnnounceIfMoved() {
  if (!announce_on_start_) return;
  announce_on_start_ = false;
  devices_->AnnounceNics();
}

void VirtualMachine::RequestStop(StopReason reason) {
  gate_->Stop(std::move(reason));
}

StopReason VirtualMachine::Wait() {
  StopReason reason = gate_->WaitUntilStopped();
  throttle_.reset();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  console_.Flush();
  std::lock_guard lock(state_mu_);
  state_ = VmState::kStopped;
  return reason;
}

VmInfo VirtualMachine::Info() const {
  std::lock_guard lock(state_mu_);
  VmState state = gate_ && gate_->stopping() ? VmState::kStopped : state_;
  int64_t uptime = started_ns_ == 0 ? 0 : (MonotonicNs() - started_ns_) / 1'000'000;
  return VmInfo{state,
                config_.cpus,
                config_.memory_bytes,
                uptime,
                static_cast<int>(::getpid()),
                config_.dirty_tracking.name()};
}

}  // namespace ferry

namespace ferry {

Result<state::MachineState> VirtualMachine::CaptureState() const {
  {
    std::lock_guard lock(state_mu_);
    if (state_ != VmState::kPaused) {
      return Error(ErrorCode::kFailedPrecondition,
                   std::string("the VM is ") + VmStateName(state_) + "; pause it first");
    }
  }
  state::MachineState saved;
  saved.config = machine_config();
  for (const Vcpu& vcpu : vcpus_) {
    state::VcpuState v;
    ASSIGN_OR_RETURN(v.regs, vcpu.GetRegs());
    ASSIGN_OR_RETURN(v.sregs, vcpu.GetSregs());
    ASSIGN_OR_RETURN(v.xsave, vcpu.GetXsave());
    ASSIGN_OR_RETURN(v.xcrs, vcpu.GetXcrs());
    ASSIGN_OR_RETURN(v.msrs, vcpu.GetMsrs(msr_indices_));
    ASSIGN_OR_RETURN(v.lapic, vcpu.GetLapic());
    ASSIGN_OR_RETURN(v.mp_state, vcpu.GetMpState());
    ASSIGN_OR_RETURN(v.events, vcpu.GetEvents());
    ASSIGN_OR_RETURN(v.debugregs, vcpu.GetDebugRegs());
    ASSIGN_OR_RETURN(v.cpuid, vcpu.GetCpuid());
    saved.vcpus.push_back(std::move(v));
  }
  ASSIGN_OR_RETURN(saved.chips.pic_master, vm_.GetIrqchip(KVM_IRQCHIP_PIC_MASTER));
  ASSIGN_OR_RETURN(saved.chips.pic_slave, vm_.GetIrqchip(KVM_IRQCHIP_PIC_SLAVE));
  ASSIGN_OR_RETURN(saved.chips.ioapic, vm_.GetIrqchip(KVM_IRQCHIP_IOAPIC));
  ASSIGN_OR_RETURN(saved.chips.pit, vm_.GetPit());
  ASSIGN_OR_RETURN(saved.clock.clock, vm_.GetClock());
  saved.clock.realtime_ns = RealtimeNs();
  saved.serial = serial_.Save();
  saved.devices = devices_->Save();
  return saved;
}

Status VirtualMachine::RestoreVcpu(Vcpu& vcpu, const state::VcpuState& saved) {
  // The order follows what KVM needs: CPUID before anything that depends on
  // features, special registers (APIC base) before the LAPIC, events last.
  if (vcpu.id() >= setup_cpuid_.size() || !SameCpuid(setup_cpuid_[vcpu.id()], saved.cpuid)) {
    RETURN_IF_ERROR(vcpu.SetCpuid(saved.cpuid));
  }
  RETURN_IF_ERROR(vcpu.SetMpState(saved.mp_state));
  RETURN_IF_ERROR(vcpu.SetSregs(saved.sregs));
  RETURN_IF_ERROR(vcpu.SetRegs(saved.regs));
  RETURN_IF_ERROR(vcpu.SetXsave(saved.xsave));
  RETURN_IF_ERROR(vcpu.SetXcrs(saved.xcrs));
  RETURN_IF_ERROR(vcpu.SetDebugRegs(saved.debugregs));
  RETURN_IF_ERROR(vcpu.SetLapic(saved.lapic));
  RETURN_IF_ERROR(vcpu.SetMsrs(saved.msrs));
  RETURN_IF_ERROR(vcpu.SetEvents(saved.events));
  return OkStatus();
}

Status VirtualMachine::RestoreChips(const state::MachineState& saved) {
  RETURN_IF_ERROR(vm_.SetIrqchip(saved.chips.pic_master));
  RETURN_IF_ERROR(vm_.SetIrqchip(saved.chips.pic_slave));
  RETURN_IF_ERROR(vm_.SetIrqchip(saved.chips.ioapic));
  RETURN_IF_ERROR(vm_.SetPit(saved.chips.pit));
  // Guest time goes on by the wall-clock time the VM spent saved or in flight,
  // so it neither jumps back nor freezes.
  kvm_clock_data clock{};
  int64_t away = std::max<int64_t>(0, RealtimeNs() - saved.clock.realtime_ns);
  clock.clock = saved.clock.clock.clock + static_cast<uint64_t>(away);
  return vm_.SetClock(clock);
}

Result<std::unique_ptr<migration::DirtyTracker>> VirtualMachine::StartDirtyTracking() {
  if (dirty_rings_) {
    ASSIGN_OR_RETURN(std::unique_ptr<KvmDirtyRingTracker> ring,
                     KvmDirtyRingTracker::Start(vm_, memory_, *dirty_rings_));
    return std::unique_ptr<migration::DirtyTracker>(std::move(ring));
  }
  if (!manual_dirty_protect_) {
    return Error(ErrorCode::kUnimplemented,
                 "this KVM lacks KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, which live migration needs");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<KvmDirtyTracker> tracker, KvmDirtyTracker::Start(vm_, memory_));
  return std::unique_ptr<migration::DirtyTracker>(std::move(tracker));
}

void VirtualMachine::SetThrottle(int percent) {
  throttle_.reset();  // joins the old one, leaving the vCPUs running
  if (percent > 0) throttle_ = std::make_unique<Throttle>(*gate_, percent);
}

std::vector<migration::MigratableDisk*> VirtualMachine::disks() {
  if (block_disks_.empty()) {
    for (VirtioBlock* block : devices_->blocks()) {
      block_disks_.push_back(std::make_unique<BlockDisk>(*block));
    }
  }
  std::vector<migration::MigratableDisk*> out;
  for (auto& d : block_disks_) out.push_back(d.get());
  return out;
}

Status VirtualMachine::ReleaseDisks() {
  return devices_->ReleaseDisks();
}

Status VirtualMachine::ClaimDisks(int wait_ms) {
  int64_t deadline = MonotonicNs() + int64_t{wait_ms} * 1'000'000;
  for (;;) {
    Status claimed = devices_->ClaimDisks();
    if (claimed.ok() || MonotonicNs() >= deadline) return claimed;
    ::usleep(10'000);
  }
}

}  // namespace ferry
