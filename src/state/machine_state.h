// The whole machine as plain data, apart from the live objects: what a
// snapshot holds and what a migration moves besides memory. File descriptors
// and guest memory never appear here; they come from the restoring side.
#pragma once

#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "devices/serial.h"
#include "state/stream.h"
#include "state/virtio_state.h"

namespace ferry::state {

struct MachineConfig {
  uint64_t memory_bytes = 0;
  uint32_t cpus = 0;
  std::string cmdline;  // informational: the kernel and its command line live in guest memory
  // The CPUID the guest was started with: the features any host that runs it
  // must offer. Carried unchanged from host to host.
  std::vector<kvm_cpuid_entry2> cpuid;
  // The virtio devices in PCI slot order (slot 1 first); a receiver builds
  // the same set. Older writers had none.
  std::vector<DeviceDescriptor> devices = {};
};

struct VcpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
  std::vector<uint8_t> xsave;  // KVM_GET_XSAVE area, 4 KiB
  kvm_xcrs xcrs{};
  std::vector<kvm_msr_entry> msrs;
  kvm_lapic_state lapic{};
  kvm_mp_state mp_state{};
  kvm_vcpu_events events{};
  kvm_debugregs debugregs{};
  std::vector<kvm_cpuid_entry2> cpuid;  // the guest's view, also the compatibility baseline
};

struct ChipState {
  kvm_irqchip pic_master{};
  kvm_irqchip pic_slave{};
  kvm_irqchip ioapic{};
  kvm_pit_state2 pit{};
};

struct ClockState {
  kvm_clock_data clock{};
  int64_t realtime_ns = 0;  // host CLOCK_REALTIME when the clock was read
};

struct MachineState {
  MachineConfig config;
  std::vector<VcpuState> vcpus;
  ChipState chips;
  ClockState clock;
  SerialRegisters serial;
  std::vector<VirtioDeviceState> devices;  // as config.devices
};

// The configuration first (a receiver checks it before any memory moves) ...
Status WriteMachineConfig(SectionWriter& writer, const MachineConfig& config);
Result<MachineConfig> ReadMachineConfig(const Section& section);

// ... then vCPUs, chips, clock and devices.
Status WriteDeviceSections(SectionWriter& writer, const MachineState& state);

// Collects device sections (any order, each exactly once) until all arrived.
class DeviceSectionCollector {
 public:
  explicit DeviceSectionCollector(uint32_t cpus);
  // Also expects the sections of the machine's devices.
  explicit DeviceSectionCollector(const MachineConfig& config);
  // Returns true when `section` was a device section and was taken.
  Result<bool> Take(const Section& section);
  // Fails naming the first missing section.
  Result<MachineState> Finish(MachineConfig config);

 private:
  MachineState state_;
  std::vector<bool> have_vcpu_;
  VirtioSectionCollector virtio_{{}};
  bool have_chips_ = false, have_pit_ = false, have_clock_ = false, have_serial_ = false;
};

}  // namespace ferry::state
