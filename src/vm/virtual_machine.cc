#include "vm/virtual_machine.h"

#include <unistd.h>

#include "base/clock.h"
#include "base/units.h"
#include "machine/boot_loader.h"
#include "machine/cpu_setup.h"
#include "machine/layout.h"
#include "machine/vcpu_loop.h"

namespace ferry {

Result<std::unique_ptr<VirtualMachine>> VirtualMachine::Create(const VmConfig& config) {
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
  ASSIGN_OR_RETURN(GuestMemory memory, GuestMemory::Create(config.memory_bytes));
  ASSIGN_OR_RETURN(Vm vm, kvm.CreateVm());
  std::unique_ptr<VirtualMachine> machine(new VirtualMachine(
      config, std::move(kvm), std::move(vm), std::move(memory), std::move(console)));

  // Only Intel's real-mode emulation uses this page; AMD and PVM ignore it.
  (void)machine->vm_.SetTssAddress(layout::kTssAddress);
  RETURN_IF_ERROR(machine->vm_.CreateIrqchipAndPit());
  RETURN_IF_ERROR(machine->memory_.RegisterWith(machine->vm_, 0));
  BootConfig boot{config.kernel, config.cmdline, config.cpus};
  ASSIGN_OR_RETURN(BootPlan plan, LoadKernel(boot, machine->memory_));
  RETURN_IF_ERROR(machine->CreateVcpus());
  RETURN_IF_ERROR(SetupBootRegisters(machine->vcpus_[0], plan));
  RETURN_IF_ERROR(machine->WireDevices());
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
    RETURN_IF_ERROR_CTX(SetupVcpu(vcpu, cpuid, config_.cpus), "vCPU " + std::to_string(id));
    runs.push_back(vcpu.run());
    vcpus_.push_back(std::move(vcpu));
  }
  gate_ = std::make_unique<RunGate>(std::move(runs));
  return OkStatus();
}

Status VirtualMachine::WireDevices() {
  RETURN_IF_ERROR(ports_.Register(kCom1Base, kSerialPorts, &serial_, "COM1"));
  RETURN_IF_ERROR(ports_.Register(kExitPort, kExitPortWidth, &exit_port_, "exit port"));
  return OkStatus();
}

Status VirtualMachine::Start() {
  std::lock_guard lock(state_mu_);
  RETURN_IF_ERROR(CheckTransition(state_, VmState::kRunning));
  InstallVcpuKickHandler();
  started_ns_ = MonotonicNs();
  VcpuBuses buses{&ports_, &mmio_};
  for (size_t i = 0; i < vcpus_.size(); ++i) {
    threads_.emplace_back([this, i, buses] { RunVcpuLoop(vcpus_[i], i, *gate_, buses); });
  }
  state_ = VmState::kRunning;
  return OkStatus();
}

Status VirtualMachine::Pause() {
  std::lock_guard lock(state_mu_);
  if (gate_->stopping()) state_ = VmState::kStopped;
  RETURN_IF_ERROR(CheckTransition(state_, VmState::kPaused));
  gate_->Pause();
  state_ = VmState::kPaused;
  return OkStatus();
}

Status VirtualMachine::Resume() {
  std::lock_guard lock(state_mu_);
  if (gate_->stopping()) state_ = VmState::kStopped;
  RETURN_IF_ERROR(CheckTransition(state_, VmState::kRunning));
  gate_->Resume();
  state_ = VmState::kRunning;
  return OkStatus();
}

void VirtualMachine::RequestStop(StopReason reason) {
  gate_->Stop(std::move(reason));
}

StopReason VirtualMachine::Wait() {
  StopReason reason = gate_->WaitUntilStopped();
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
  return VmInfo{state, config_.cpus, config_.memory_bytes, uptime, static_cast<int>(::getpid())};
}

}  // namespace ferry
