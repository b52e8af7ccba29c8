#include "machine/vcpu_loop.h"

#include <cstdio>
#include <span>
#include <string>

namespace ferry {
namespace {

std::optional<StopReason> HandlePortIo(kvm_run& run, const IoBus& ports) {
  auto* base = reinterpret_cast<uint8_t*>(&run) + run.io.data_offset;
  for (uint32_t i = 0; i < run.io.count; ++i) {
    std::span<uint8_t> data(base + i * run.io.size, run.io.size);
    if (run.io.direction == KVM_EXIT_IO_OUT) {
      ports.Write(run.io.port, data);
    } else {
      ports.Read(run.io.port, data);
    }
  }
  return std::nullopt;
}

std::optional<StopReason> HandleMmio(kvm_run& run, const IoBus& mmio) {
  std::span<uint8_t> data(run.mmio.data, run.mmio.len);
  if (run.mmio.is_write) {
    mmio.Write(run.mmio.phys_addr, data);
  } else {
    mmio.Read(run.mmio.phys_addr, data);
  }
  return std::nullopt;
}

StopReason Stop(StopReason::Kind kind, std::string message) {
  return StopReason{kind, 0, std::move(message)};
}

// Harvested and reset, the ring has room again and the vCPU simply re-enters.
std::optional<StopReason> HandleDirtyRingFull(DirtyRingFullHandler* rings) {
  if (rings == nullptr)
    return Stop(StopReason::Kind::kInternalError, "dirty ring full without rings");
  Status harvested = rings->OnDirtyRingFull();
  if (harvested.ok()) return std::nullopt;
  return Stop(StopReason::Kind::kInternalError,
              "harvesting a full dirty ring: " + harvested.error().message());
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace

std::optional<StopReason> HandleExit(kvm_run& run, VcpuBuses buses) {
  switch (run.exit_reason) {
    case KVM_EXIT_IO:
      return HandlePortIo(run, *buses.ports);
    case KVM_EXIT_MMIO:
      return HandleMmio(run, *buses.mmio);
    case KVM_EXIT_INTR:
      return std::nullopt;
    case KVM_EXIT_DIRTY_RING_FULL:
      return HandleDirtyRingFull(buses.dirty_rings);
    case KVM_EXIT_HLT:
      return Stop(StopReason::Kind::kGuestReset, "the guest halted with nothing to wake it");
    case KVM_EXIT_SHUTDOWN:
      return Stop(StopReason::Kind::kGuestReset, "the guest reset itself (triple fault)");
    case KVM_EXIT_SYSTEM_EVENT:
      return Stop(StopReason::Kind::kGuestReset, "the guest requested a system event (type " +
                                                     std::to_string(run.system_event.type) +
                                                     ": reset or power off)");
    case KVM_EXIT_FAIL_ENTRY:
      return Stop(StopReason::Kind::kInternalError,
                  "KVM could not enter the guest (hardware reason " +
                      Hex(run.fail_entry.hardware_entry_failure_reason) + ")");
    case KVM_EXIT_INTERNAL_ERROR:
      return Stop(StopReason::Kind::kInternalError, "KVM internal error (suberror " +
                                                        std::to_string(run.internal.suberror) +
                                                        ", e.g. an instruction it cannot emulate)");
    default:
      return Stop(StopReason::Kind::kUnhandledExit,
                  "unhandled VM exit reason " + std::to_string(run.exit_reason));
  }
}

void RunVcpuLoop(Vcpu& vcpu, size_t index, RunGate& gate, VcpuBuses buses) {
  gate.Attach(index);
  bool kicked = false;  // the last KVM_RUN returned EINTR: no I/O exit is left to finish
  for (;;) {
    RunGate::Decision decision = gate.CheckIn(index);
    if (decision == RunGate::Decision::kSettle) {
      // immediate_exit is set: KVM finishes the last I/O exit and returns EINTR.
      // After an EINTR KVM has finished it already (it completes userspace I/O
      // before it looks at signals), so the pause skips that ioctl.
      if (!kicked) (void)vcpu.Run();
      decision = gate.Park(index);
    }
    if (decision == RunGate::Decision::kStop) break;
    Status entered = vcpu.Run();
    kicked = !entered.ok() && entered.error().code() == ErrorCode::kUnavailable;
    if (!entered.ok()) {
      if (kicked) continue;
      gate.Stop({StopReason::Kind::kInternalError, 0, entered.error().message()});
      break;
    }
    std::optional<StopReason> stop = HandleExit(*vcpu.run(), buses);
    if (stop) {
      stop->message = "vCPU " + std::to_string(index) + ": " + stop->message;
      gate.Stop(std::move(*stop));
      break;
    }
  }
  gate.Detach(index);
}

}  // namespace ferry
