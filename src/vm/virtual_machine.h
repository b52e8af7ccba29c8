// One running VM: KVM objects, guest memory, vCPU threads, devices and buses,
// and its lifecycle. The composition root below the control plane.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "devices/block/raw_disk.h"
#include "devices/console.h"
#include "devices/exit_port.h"
#include "devices/serial.h"
#include "devices/virtio/net.h"
#include "kvm/kvm.h"
#include "machine/guest_memory.h"
#include "machine/io_bus.h"
#include "machine/run_gate.h"
#include "migration/migratable.h"
#include "state/machine_state.h"
#include "vm/kvm_dirty_ring_tracker.h"
#include "vm/vm_state.h"

namespace ferry {

struct VmConfig {
  std::string kernel;
  std::string cmdline;
  uint64_t memory_bytes = 512ull << 20;
  uint32_t cpus = 1;
  std::string console = "stdio";
  std::vector<DiskSpec> disks;         // virtio-blk devices, in PCI slot order
  std::vector<NetSpec> nets;           // virtio-net devices, after the disks
  bool rng = false;                    // a virtio-rng device after the disks and NICs
  bool defer_disk_locks = false;       // a migration destination: ClaimDisks() after `go`
  DirtyTrackingChoice dirty_tracking;  // fixed for the VM's life (the ring predates the vCPUs)
};

struct VmInfo {
  VmState state;
  uint32_t cpus;
  uint64_t memory_bytes;
  int64_t uptime_ms;
  int pid;
  const char* dirty_tracking;  // "log" or "ring"
};

class VirtualMachine final : public migration::MigratableVm {
 public:
  // Checks the configuration, creates the VM and loads the kernel. Nothing runs yet.
  static Result<std::unique_ptr<VirtualMachine>> Create(const VmConfig& config);
  // Rebuilds a VM from saved state and its memory; it resumes where it stopped
  // once started. `config` supplies the console; size and CPUs come from `state`.
  static Result<std::unique_ptr<VirtualMachine>> Restore(const VmConfig& config,
                                                         const state::MachineState& state,
                                                         GuestMemory memory);
  // The two halves of Restore, for a migration destination: Prepare creates
  // the VM (KVM objects, vCPUs, fresh memory) while the source still runs;
  // LoadState applies the state once it has arrived.
  static Result<std::unique_ptr<VirtualMachine>> Prepare(const VmConfig& config,
                                                         const state::MachineConfig& machine,
                                                         GuestMemory memory);
  Status LoadState(const state::MachineState& state);
  GuestMemory& mutable_memory() { return memory_; }
  ~VirtualMachine() override;
  VirtualMachine(const VirtualMachine&) = delete;
  VirtualMachine& operator=(const VirtualMachine&) = delete;

  Status Start();
  // Starts the vCPU threads parked: the VM is paused until Resume. A
  // migration destination does this before the state arrives, so that the
  // handover only has to wake them.
  Status StartPaused();
  Status Pause() override;
  Status Resume() override;
  // Ends the VM for `reason` (first reason wins); Wait() then returns it.
  void RequestStop(StopReason reason);
  // Blocks until the VM has stopped and every vCPU thread has ended.
  StopReason Wait();

  VmInfo Info() const;

  // The complete machine state; the VM must be paused.
  Result<state::MachineState> CaptureState() const override;
  state::MachineConfig machine_config() const override {
    return {config_.memory_bytes, config_.cpus, config_.cmdline, guest_cpuid_, device_descriptors_};
  }
  const GuestMemory& memory() const override { return memory_; }
  Result<std::unique_ptr<migration::DirtyTracker>> StartDirtyTracking() override;
  void SetThrottle(int percent) override;
  Status ReleaseDisks() override;
  std::vector<migration::MigratableDisk*> disks() override;
  // Locks the disk images (a destination after `go`), retrying for up to
  // `wait_ms` while the source lets go of them.
  Status ClaimDisks(int wait_ms);
  const DirtyRings* dirty_rings() const { return dirty_rings_.get(); }  // null with the log

 private:
  VirtualMachine(const VmConfig& config, Kvm kvm, Vm vm, GuestMemory memory, ConsoleSink console);
  // KVM objects, memory slots, vCPUs with `cpuid` and devices, without any guest state.
  static Result<std::unique_ptr<VirtualMachine>> Build(const VmConfig& config, GuestMemory memory);
  Status StartThreads(VmState state);
  Status CreateVcpus();
  Status WireDevices();
  Status RestoreVcpu(Vcpu& vcpu, const state::VcpuState& saved);
  Status RestoreChips(const state::MachineState& saved);

  VmConfig config_;
  Kvm kvm_;
  Vm vm_;
  GuestMemory memory_;
  ConsoleSink console_;
  Serial serial_;
  ExitPort exit_port_;
  IoBus ports_{"port I/O"};
  IoBus mmio_{"MMIO"};
  std::vector<Vcpu> vcpus_;
  // The CPUID the guest was started with (what a destination must offer).
  std::vector<kvm_cpuid_entry2> guest_cpuid_;
  std::vector<uint32_t> msr_indices_;
  // Each vCPU's CPUID as KVM reports it after setup: restoring identical
  // entries skips KVM_SET_CPUID2, the costliest ioctl of a migration's load.
  std::vector<std::vector<kvm_cpuid_entry2>> setup_cpuid_;
  std::unique_ptr<RunGate> gate_;
  std::vector<std::thread> threads_;

  std::unique_ptr<class DeviceSet> devices_;                   // vm/device_set.h
  std::vector<std::unique_ptr<class BlockDisk>> block_disks_;  // views of devices_' disks
  std::vector<state::DeviceDescriptor> device_descriptors_;
  std::unique_ptr<class Throttle> throttle_;
  bool manual_dirty_protect_ = false;
  std::unique_ptr<DirtyRings> dirty_rings_;  // with --dirty-tracking ring
  // Loaded from saved state (restore, migration): the NICs announce the
  // guest's MAC when it starts running here.
  bool announce_on_start_ = false;
  void AnnounceIfMoved();

  mutable std::mutex state_mu_;  // guards state_ transitions
  VmState state_ = VmState::kCreated;
  int64_t started_ns_ = 0;
};

}  // namespace ferry
