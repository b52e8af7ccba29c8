#include "state/machine_state.h"

#include "state/fields.h"

namespace ferry::state {
namespace {

constexpr size_t kMaxCpuidEntries = 512;
constexpr size_t kMaxMsrs = 4096;
constexpr size_t kMaxCmdline = 65536;

// Field ids. Never reuse or renumber one: add new ids instead.
enum MachineField : uint16_t {
  kMemoryBytes = 1,
  kCpus = 2,
  kCmdline = 3,
  kBaselineCpuid = 4,
  kDevices = 5,
};
enum VcpuField : uint16_t {
  kRegs = 1,
  kSregs = 2,
  kXsave = 3,
  kXcrs = 4,
  kMsrs = 5,
  kLapic = 6,
  kMpState = 7,
  kEvents = 8,
  kDebugRegs = 9,
  kCpuid = 10,
};
enum ChipField : uint16_t { kPicMaster = 1, kPicSlave = 2, kIoapic = 3 };
enum PitField : uint16_t { kPitState = 1 };
enum ClockField : uint16_t { kClockData = 1, kRealtimeNs = 2 };
enum SerialField : uint16_t {
  kIer = 1,
  kLcr = 2,
  kMcr = 3,
  kScr = 4,
  kDll = 5,
  kDlm = 6,
  kFcr = 7,
};

Status WriteVcpu(SectionWriter& writer, uint16_t index, const VcpuState& v) {
  FieldWriter f;
  f.Put(kRegs, v.regs);
  f.Put(kSregs, v.sregs);
  f.PutVector(kXsave, v.xsave);
  f.Put(kXcrs, v.xcrs);
  f.PutVector(kMsrs, v.msrs);
  f.Put(kLapic, v.lapic);
  f.Put(kMpState, v.mp_state);
  f.Put(kEvents, v.events);
  f.Put(kDebugRegs, v.debugregs);
  f.PutVector(kCpuid, v.cpuid);
  return writer.Write(SectionType::kVcpu, index, f.bytes());
}

Result<VcpuState> ReadVcpu(const FieldReader& f) {
  VcpuState v;
  ASSIGN_OR_RETURN(v.regs, f.Get<kvm_regs>(kRegs));
  ASSIGN_OR_RETURN(v.sregs, f.Get<kvm_sregs>(kSregs));
  ASSIGN_OR_RETURN(v.xsave, f.GetVector<uint8_t>(kXsave, 4096));
  ASSIGN_OR_RETURN(v.xcrs, f.Get<kvm_xcrs>(kXcrs));
  ASSIGN_OR_RETURN(v.msrs, f.GetVector<kvm_msr_entry>(kMsrs, kMaxMsrs));
  ASSIGN_OR_RETURN(v.lapic, f.Get<kvm_lapic_state>(kLapic));
  ASSIGN_OR_RETURN(v.mp_state, f.Get<kvm_mp_state>(kMpState));
  ASSIGN_OR_RETURN(v.events, f.Get<kvm_vcpu_events>(kEvents));
  ASSIGN_OR_RETURN(v.debugregs, f.Get<kvm_debugregs>(kDebugRegs));
  ASSIGN_OR_RETURN(v.cpuid, f.GetVector<kvm_cpuid_entry2>(kCpuid, kMaxCpuidEntries));
  if (v.xsave.size() != 4096) {
    return Error(ErrorCode::kCorrupt, "section 'vcpu': XSAVE area is not 4096 bytes");
  }
  return v;
}

Error Duplicate(const Section& section) {
  return Error(ErrorCode::kCorrupt, "section '" + section.name() + "' (instance " +
                                        std::to_string(section.header.instance) +
                                        ") appears twice");
}

}  // namespace

Status WriteMachineConfig(SectionWriter& writer, const MachineConfig& config) {
  FieldWriter f;
  f.Put<uint64_t>(kMemoryBytes, config.memory_bytes);
  f.Put<uint32_t>(kCpus, config.cpus);
  f.PutString(kCmdline, config.cmdline);
  f.PutVector(kBaselineCpuid, config.cpuid);
  if (!config.devices.empty()) f.PutVector(kDevices, config.devices);
  return writer.Write(SectionType::kMachine, 0, f.bytes());
}

Result<MachineConfig> ReadMachineConfig(const Section& section) {
  if (section.header.type != static_cast<uint32_t>(SectionType::kMachine)) {
    return Error(ErrorCode::kCorrupt,
                 "expected the 'machine' section first, found '" + section.name() + "'");
  }
  ASSIGN_OR_RETURN(FieldReader f, FieldReader::Parse(section.payload, "machine"));
  MachineConfig config;
  ASSIGN_OR_RETURN(config.memory_bytes, f.Get<uint64_t>(kMemoryBytes));
  ASSIGN_OR_RETURN(config.cpus, f.Get<uint32_t>(kCpus));
  ASSIGN_OR_RETURN(config.cmdline, f.GetString(kCmdline, kMaxCmdline));
  ASSIGN_OR_RETURN(config.cpuid, f.GetVector<kvm_cpuid_entry2>(kBaselineCpuid, kMaxCpuidEntries));
  if (f.Has(kDevices)) {
    ASSIGN_OR_RETURN(config.devices, f.GetVector<DeviceDescriptor>(kDevices, 31));
    RETURN_IF_ERROR_CTX(CheckDeviceDescriptors(config.devices), "section 'machine'");
  }
  if (config.cpus == 0 || config.cpus > 255) {
    return Error(ErrorCode::kCorrupt,
                 "section 'machine': " + std::to_string(config.cpus) + " vCPUs is out of range");
  }
  if (config.memory_bytes < (16u << 20) || config.memory_bytes % (2u << 20) != 0) {
    return Error(ErrorCode::kCorrupt, "section 'machine': memory size " +
                                          std::to_string(config.memory_bytes) + " is invalid");
  }
  return config;
}

Status WriteDeviceSections(SectionWriter& writer, const MachineState& state) {
  for (size_t i = 0; i < state.vcpus.size(); ++i) {
    RETURN_IF_ERROR(WriteVcpu(writer, static_cast<uint16_t>(i), state.vcpus[i]));
  }
  FieldWriter chips;
  chips.Put(kPicMaster, state.chips.pic_master);
  chips.Put(kPicSlave, state.chips.pic_slave);
  chips.Put(kIoapic, state.chips.ioapic);
  RETURN_IF_ERROR(writer.Write(SectionType::kIrqchip, 0, chips.bytes()));
  FieldWriter pit;
  pit.Put(kPitState, state.chips.pit);
  RETURN_IF_ERROR(writer.Write(SectionType::kPit, 0, pit.bytes()));
  FieldWriter clock;
  clock.Put(kClockData, state.clock.clock);
  clock.Put<int64_t>(kRealtimeNs, state.clock.realtime_ns);
  RETURN_IF_ERROR(writer.Write(SectionType::kClock, 0, clock.bytes()));
  FieldWriter serial;
  const SerialRegisters& s = state.serial;
  serial.Put(kIer, s.ier);
  serial.Put(kLcr, s.lcr);
  serial.Put(kMcr, s.mcr);
  serial.Put(kScr, s.scr);
  serial.Put(kDll, s.dll);
  serial.Put(kDlm, s.dlm);
  serial.Put(kFcr, s.fcr);
  RETURN_IF_ERROR(writer.Write(SectionType::kSerial, 0, serial.bytes()));
  return WriteVirtioSections(writer, state.devices);
}

DeviceSectionCollector::DeviceSectionCollector(uint32_t cpus) : have_vcpu_(cpus, false) {
  state_.vcpus.resize(cpus);
}

DeviceSectionCollector::DeviceSectionCollector(const MachineConfig& config)
    : DeviceSectionCollector(config.cpus) {
  virtio_ = VirtioSectionCollector(config.devices);
}

Result<bool> DeviceSectionCollector::Take(const Section& section) {
  ASSIGN_OR_RETURN(bool virtio, virtio_.Take(section));
  if (virtio) return true;
  ASSIGN_OR_RETURN(FieldReader f, FieldReader::Parse(section.payload, section.name()));
  switch (static_cast<SectionType>(section.header.type)) {
    case SectionType::kVcpu: {
      uint16_t index = section.header.instance;
      if (index >= have_vcpu_.size()) {
        return Error(ErrorCode::kCorrupt, "section 'vcpu' for vCPU " + std::to_string(index) +
                                              ", but the machine has " +
                                              std::to_string(have_vcpu_.size()));
      }
      if (have_vcpu_[index]) return Duplicate(section);
      ASSIGN_OR_RETURN(state_.vcpus[index], ReadVcpu(f));
      have_vcpu_[index] = true;
      return true;
    }
    case SectionType::kIrqchip: {
      if (have_chips_) return Duplicate(section);
      ASSIGN_OR_RETURN(state_.chips.pic_master, f.Get<kvm_irqchip>(kPicMaster));
      ASSIGN_OR_RETURN(state_.chips.pic_slave, f.Get<kvm_irqchip>(kPicSlave));
      ASSIGN_OR_RETURN(state_.chips.ioapic, f.Get<kvm_irqchip>(kIoapic));
      have_chips_ = true;
      return true;
    }
    case SectionType::kPit: {
      if (have_pit_) return Duplicate(section);
      ASSIGN_OR_RETURN(state_.chips.pit, f.Get<kvm_pit_state2>(kPitState));
      have_pit_ = true;
      return true;
    }
    case SectionType::kClock: {
      if (have_clock_) return Duplicate(section);
      ASSIGN_OR_RETURN(state_.clock.clock, f.Get<kvm_clock_data>(kClockData));
      ASSIGN_OR_RETURN(state_.clock.realtime_ns, f.Get<int64_t>(kRealtimeNs));
      have_clock_ = true;
      return true;
    }
    case SectionType::kSerial: {
      if (have_serial_) return Duplicate(section);
      SerialRegisters& s = state_.serial;
      ASSIGN_OR_RETURN(s.ier, f.Get<uint8_t>(kIer));
      ASSIGN_OR_RETURN(s.lcr, f.Get<uint8_t>(kLcr));
      ASSIGN_OR_RETURN(s.mcr, f.Get<uint8_t>(kMcr));
      ASSIGN_OR_RETURN(s.scr, f.Get<uint8_t>(kScr));
      ASSIGN_OR_RETURN(s.dll, f.Get<uint8_t>(kDll));
      ASSIGN_OR_RETURN(s.dlm, f.Get<uint8_t>(kDlm));
      ASSIGN_OR_RETURN(s.fcr, f.GetOr<uint8_t>(kFcr, 0));
      have_serial_ = true;
      return true;
    }
    default:
      return false;
  }
}

Result<MachineState> DeviceSectionCollector::Finish(MachineConfig config) {
  for (size_t i = 0; i < have_vcpu_.size(); ++i) {
    if (!have_vcpu_[i]) {
      return Error(ErrorCode::kCorrupt,
                   "the state lacks section 'vcpu' for vCPU " + std::to_string(i));
    }
  }
  const char* missing = !have_chips_    ? "irqchip"
                        : !have_pit_    ? "pit"
                        : !have_clock_  ? "clock"
                        : !have_serial_ ? "serial"
                                        : nullptr;
  if (missing) {
    return Error(ErrorCode::kCorrupt, std::string("the state lacks section '") + missing + "'");
  }
  ASSIGN_OR_RETURN(state_.devices, virtio_.Finish());
  if (state_.devices.size() != config.devices.size()) {
    return Error(ErrorCode::kInternal, "device sections were collected without the device list");
  }
  state_.config = std::move(config);
  return std::move(state_);
}

}  // namespace ferry::state
