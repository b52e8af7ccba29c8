// The loop each vCPU thread runs: enter the guest, handle the exit, repeat.
#pragma once

#include "kvm/dirty_ring.h"
#include "kvm/vcpu.h"
#include "machine/io_bus.h"
#include "machine/run_gate.h"

namespace ferry {

struct VcpuBuses {
  const IoBus* ports;
  const IoBus* mmio;
  DirtyRingFullHandler* dirty_rings = nullptr;  // with dirty rings: KVM_EXIT_DIRTY_RING_FULL
};

// Runs until the gate says stop. Fatal exits stop the whole VM through the gate.
void RunVcpuLoop(Vcpu& vcpu, size_t index, RunGate& gate, VcpuBuses buses);

// Handles one KVM exit; returns a reason when the VM must stop.
std::optional<StopReason> HandleExit(kvm_run& run, VcpuBuses buses);

}  // namespace ferry
