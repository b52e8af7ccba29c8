#include "state/virtio_state.h"

#include "devices/virtio/virtio_spec.h"
#include "state/fields.h"

namespace ferry::state {
namespace {

constexpr size_t kMaxQueues = 64;
constexpr size_t kMaxVectors = 64;
constexpr size_t kMaxSerial = 20;

// Field ids. Never reuse or renumber one: add new ids instead.
enum VirtioPciField : uint16_t {
  kDeviceType = 1,
  kConfigSpace = 2,
  // 3 is reserved (never written)
  kDriverFeatures = 4,
  kDeviceFeatureSelect = 5,
  kDriverFeatureSelect = 6,
  kConfigMsixVector = 7,
  kQueueSelect = 8,
  kStatus = 9,
  kConfigGeneration = 10,
  kIsr = 11,
  kQueues = 12,
  kMsixTable = 13,
  kMsixPending = 14,
};
enum VirtioBlkField : uint16_t { kCapacitySectors = 1, kReadOnly = 2, kSerial = 3 };
enum VirtioNetField : uint16_t { kMac = 1, kLinkStatus = 2, kNetFeatures = 3 };

Error Corrupt(const Section& section, const std::string& what) {
  return Error(ErrorCode::kCorrupt, "section '" + section.name() + "' (instance " +
                                        std::to_string(section.header.instance) + "): " + what);
}

Result<VirtioPciState> ReadTransport(const FieldReader& f) {
  VirtioPciState s;
  ASSIGN_OR_RETURN(s.device_type, f.Get<uint32_t>(kDeviceType));
  ASSIGN_OR_RETURN(std::vector<uint8_t> config, f.GetVector<uint8_t>(kConfigSpace, 256));
  if (config.size() != s.config.bytes.size()) {
    return Error(ErrorCode::kCorrupt, "section 'virtio-pci': config space is not 256 bytes");
  }
  std::copy(config.begin(), config.end(), s.config.bytes.begin());
  ASSIGN_OR_RETURN(s.driver_features, f.Get<uint64_t>(kDriverFeatures));
  ASSIGN_OR_RETURN(s.device_feature_select, f.GetOr<uint32_t>(kDeviceFeatureSelect, 0));
  ASSIGN_OR_RETURN(s.driver_feature_select, f.GetOr<uint32_t>(kDriverFeatureSelect, 0));
  ASSIGN_OR_RETURN(s.config_msix_vector, f.Get<uint16_t>(kConfigMsixVector));
  ASSIGN_OR_RETURN(s.queue_select, f.GetOr<uint16_t>(kQueueSelect, 0));
  ASSIGN_OR_RETURN(s.status, f.Get<uint8_t>(kStatus));
  ASSIGN_OR_RETURN(s.config_generation, f.GetOr<uint8_t>(kConfigGeneration, 0));
  ASSIGN_OR_RETURN(s.isr, f.Get<uint8_t>(kIsr));
  ASSIGN_OR_RETURN(s.queues, f.GetVector<QueueState>(kQueues, kMaxQueues));
  ASSIGN_OR_RETURN(s.msix.table, f.GetVector<MsixEntry>(kMsixTable, kMaxVectors));
  ASSIGN_OR_RETURN(s.msix.pending, f.Get<uint64_t>(kMsixPending));
  return s;
}

Status WriteNetSection(SectionWriter& writer, uint16_t instance, const NetState& n) {
  FieldWriter f;
  f.PutBytes(kMac, n.mac);
  f.Put(kLinkStatus, n.status);
  f.Put(kNetFeatures, n.features);
  return writer.Write(SectionType::kVirtioNet, instance, f.bytes());
}

Result<NetState> ReadNetSection(const FieldReader& f, const Section& section) {
  NetState n;
  ASSIGN_OR_RETURN(std::vector<uint8_t> mac, f.GetVector<uint8_t>(kMac, 6));
  if (mac.size() != 6) return Corrupt(section, "the MAC is not 6 bytes");
  if (mac[0] & 1) return Corrupt(section, "the MAC is a multicast address");
  std::copy(mac.begin(), mac.end(), n.mac.begin());
  ASSIGN_OR_RETURN(n.status, f.Get<uint16_t>(kLinkStatus));
  ASSIGN_OR_RETURN(n.features, f.Get<uint64_t>(kNetFeatures));
  return n;
}

}  // namespace

Status CheckDeviceDescriptors(const std::vector<DeviceDescriptor>& devices) {
  if (devices.size() > 31) {
    return Error(ErrorCode::kCorrupt, "the machine lists more devices than a PCI bus holds");
  }
  for (const DeviceDescriptor& d : devices) {
    bool block = d.type == virtio::kDeviceBlock;
    if (!block && d.type != virtio::kDeviceRng && d.type != virtio_net::kDeviceNet) {
      return Error(ErrorCode::kCorrupt, "the machine has a device of unknown type " +
                                            std::to_string(d.type) + " (a newer ferry?)");
    }
    if ((d.flags & ~DeviceDescriptor::kReadOnly) != 0 || (!block && d.flags != 0)) {
      return Error(ErrorCode::kCorrupt, "a device descriptor has unknown flags");
    }
  }
  return OkStatus();
}

Status WriteVirtioSections(SectionWriter& writer, const std::vector<VirtioDeviceState>& devices) {
  for (size_t i = 0; i < devices.size(); ++i) {
    const VirtioPciState& s = devices[i].transport;
    FieldWriter f;
    f.Put(kDeviceType, s.device_type);
    f.PutBytes(kConfigSpace, s.config.bytes);
    f.Put(kDriverFeatures, s.driver_features);
    f.Put(kDeviceFeatureSelect, s.device_feature_select);
    f.Put(kDriverFeatureSelect, s.driver_feature_select);
    f.Put(kConfigMsixVector, s.config_msix_vector);
    f.Put(kQueueSelect, s.queue_select);
    f.Put(kStatus, s.status);
    f.Put(kConfigGeneration, s.config_generation);
    f.Put(kIsr, s.isr);
    f.PutVector(kQueues, s.queues);
    f.PutVector(kMsixTable, s.msix.table);
    f.Put(kMsixPending, s.msix.pending);
    auto instance = static_cast<uint16_t>(i);
    RETURN_IF_ERROR(writer.Write(SectionType::kVirtioPci, instance, f.bytes()));
    if (s.device_type == virtio_net::kDeviceNet) {
      RETURN_IF_ERROR(WriteNetSection(writer, instance, devices[i].net));
      continue;
    }
    if (s.device_type != virtio::kDeviceBlock) continue;
    const BlockState& b = devices[i].block;
    FieldWriter blk;
    blk.Put(kCapacitySectors, b.capacity_sectors);
    blk.Put<uint8_t>(kReadOnly, b.read_only ? 1 : 0);
    blk.PutString(kSerial, b.serial);
    RETURN_IF_ERROR(writer.Write(SectionType::kVirtioBlk, instance, blk.bytes()));
  }
  return OkStatus();
}

VirtioSectionCollector::VirtioSectionCollector(std::vector<DeviceDescriptor> expected)
    : expected_(std::move(expected)),
      devices_(expected_.size()),
      have_transport_(expected_.size(), false),
      have_block_(expected_.size(), false),
      have_net_(expected_.size(), false) {}

Result<bool> VirtioSectionCollector::Take(const Section& section) {
  auto type = static_cast<SectionType>(section.header.type);
  if (type != SectionType::kVirtioPci && type != SectionType::kVirtioBlk &&
      type != SectionType::kVirtioNet) {
    return false;
  }
  uint16_t index = section.header.instance;
  if (index >= expected_.size()) {
    return Corrupt(section, "the machine lists " + std::to_string(expected_.size()) + " devices");
  }
  ASSIGN_OR_RETURN(FieldReader f, FieldReader::Parse(section.payload, section.name()));
  if (type == SectionType::kVirtioPci) {
    if (have_transport_[index]) return Corrupt(section, "appears twice");
    ASSIGN_OR_RETURN(devices_[index].transport, ReadTransport(f));
    if (devices_[index].transport.device_type != expected_[index].type) {
      return Corrupt(section, "device type differs from the machine's device list");
    }
    have_transport_[index] = true;
    return true;
  }
  if (type == SectionType::kVirtioNet) {
    if (expected_[index].type != virtio_net::kDeviceNet) {
      return Corrupt(section, "not a network device");
    }
    if (have_net_[index]) return Corrupt(section, "appears twice");
    ASSIGN_OR_RETURN(devices_[index].net, ReadNetSection(f, section));
    have_net_[index] = true;
    return true;
  }
  if (expected_[index].type != virtio::kDeviceBlock) return Corrupt(section, "not a block device");
  if (have_block_[index]) return Corrupt(section, "appears twice");
  BlockState& b = devices_[index].block;
  ASSIGN_OR_RETURN(b.capacity_sectors, f.Get<uint64_t>(kCapacitySectors));
  ASSIGN_OR_RETURN(uint8_t read_only, f.Get<uint8_t>(kReadOnly));
  ASSIGN_OR_RETURN(b.serial, f.GetString(kSerial, kMaxSerial));
  b.read_only = read_only != 0;
  if (b.read_only != ((expected_[index].flags & DeviceDescriptor::kReadOnly) != 0)) {
    return Corrupt(section, "read-only flag differs from the machine's device list");
  }
  have_block_[index] = true;
  return true;
}

Result<std::vector<VirtioDeviceState>> VirtioSectionCollector::Finish() {
  for (size_t i = 0; i < expected_.size(); ++i) {
    if (!have_transport_[i]) {
      return Error(ErrorCode::kCorrupt,
                   "the state lacks section 'virtio-pci' for device " + std::to_string(i));
    }
    if (expected_[i].type == virtio::kDeviceBlock && !have_block_[i]) {
      return Error(ErrorCode::kCorrupt,
                   "the state lacks section 'virtio-blk' for device " + std::to_string(i));
    }
    if (expected_[i].type == virtio_net::kDeviceNet && !have_net_[i]) {
      return Error(ErrorCode::kCorrupt,
                   "the state lacks section 'virtio-net' for device " + std::to_string(i));
    }
  }
  return std::move(devices_);
}

}  // namespace ferry::state
