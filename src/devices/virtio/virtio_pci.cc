#include "devices/virtio/virtio_pci.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

constexpr uint32_t kCommonSize = 0x38;
constexpr uint16_t kMsixVectorsExtra = 1;  // one for configuration changes

// struct virtio_pci_cap (4.1.4), plus notify_off_multiplier for NOTIFY_CFG.
enum : uint8_t { kCapCommon = 1, kCapNotify = 2, kCapIsr = 3, kCapDevice = 4, kCapPciCfg = 5 };

std::vector<uint8_t> VirtioCap(uint8_t type, uint32_t offset, uint32_t length,
                               bool notify = false) {
  std::vector<uint8_t> cap(notify ? 20 : 16, 0);
  cap[0] = pci::kCapVendor;
  cap[2] = static_cast<uint8_t>(cap.size());
  cap[3] = type;
  cap[4] = 0;  // BAR 0
  std::memcpy(&cap[8], &offset, 4);
  std::memcpy(&cap[12], &length, 4);
  if (notify) {
    uint32_t multiplier = VirtioPciTransport::kNotifyMultiplier;
    std::memcpy(&cap[16], &multiplier, 4);
  }
  return cap;
}

PciIds IdsFor(const VirtioDevice& device) {
  return {.vendor = virtio::kPciVendor,
          .device = static_cast<uint16_t>(virtio::kPciDeviceBase + device.device_type()),
          .revision = 1,
          .class_code = device.pci_class(),
          .subsystem_vendor = virtio::kPciVendor,
          .subsystem = 0x40};
}

}  // namespace

VirtioPciTransport::VirtioPciTransport(VirtioDevice& device, GuestMemory& memory,
                                       InterruptSink& interrupts, Vm* vm, uint32_t intx_gsi,
                                       std::string name)
    : name_(std::move(name)),
      device_(device),
      memory_(memory),
      interrupts_(interrupts),
      vm_(vm),
      intx_gsi_(intx_gsi),
      offered_(device.device_features() | virtio::Bit(virtio::kFeatureVersion1) |
               virtio::Bit(virtio::kFeatureEventIdx) | virtio::Bit(virtio::kFeatureIndirectDesc)),
      config_(IdsFor(device), name_),
      msix_(static_cast<uint16_t>(device.num_queues() + kMsixVectorsExtra), interrupts) {
  for (uint16_t i = 0; i < device.num_queues(); ++i) {
    queues_.emplace_back(device.max_queue_size());
  }
  ioeventfd_registered_.assign(device.num_queues(), false);
  BuildCapabilities();
}

Result<std::unique_ptr<VirtioPciTransport>> VirtioPciTransport::Create(VirtioDevice& device,
                                                                       GuestMemory& memory,
                                                                       InterruptSink& interrupts,
                                                                       Vm* vm, uint32_t intx_gsi,
                                                                       std::string name) {
  if (device.num_queues() + kMsixVectorsExtra > Msix::kMaxVectors) {
    return Error(ErrorCode::kInternal, name + ": too many queues");
  }
  std::unique_ptr<VirtioPciTransport> t(
      new VirtioPciTransport(device, memory, interrupts, vm, intx_gsi, name));
  std::vector<int> fds;
  for (uint16_t i = 0; i < device.num_queues(); ++i) {
    ASSIGN_OR_RETURN(EventFd fd, EventFd::Create());
    fds.push_back(fd.get());
    t->queue_events_.push_back(std::move(fd));
  }
  ASSIGN_OR_RETURN(t->worker_,
                   QueueWorker::Start(
                       fds, [raw = t.get()] { raw->ServiceQueues(); }, name, device.device_fds(),
                       [&device](int fd) { device.DeviceEvent(fd); }));
  return t;
}

VirtioPciTransport::~VirtioPciTransport() {
  worker_.reset();
  if (vm_ == nullptr) return;
  uint32_t bar = config_.bar_address(0);
  for (size_t i = 0; i < queue_events_.size(); ++i) {
    if (!ioeventfd_registered_[i]) continue;
    (void)vm_->DeassignMmioEventfd(queue_events_[i].get(),
                                   bar + kNotifyOffset + kNotifyMultiplier * i, 2);
  }
}

void VirtioPciTransport::BuildCapabilities() {
  config_.DeclareBar(0, kBarSize);
  config_.AddCapability(VirtioCap(kCapCommon, kCommonOffset, kCommonSize));
  config_.AddCapability(
      VirtioCap(kCapNotify, kNotifyOffset, kNotifyMultiplier * device_.num_queues(), true));
  config_.AddCapability(VirtioCap(kCapIsr, kIsrOffset, 1));
  config_.AddCapability(VirtioCap(kCapDevice, kDeviceOffset, 0x1000));
  // VIRTIO_PCI_CAP_PCI_CFG: a window into the BAR through config space. The
  // driver writes bar, offset and length, then reads or writes the data.
  std::vector<uint8_t> window = VirtioCap(kCapPciCfg, 0, 0);
  window.resize(20, 0);
  window[2] = 20;
  std::vector<uint8_t> window_writable(20, 0);
  window_writable[4] = 0xff;
  std::fill(window_writable.begin() + 8, window_writable.end(), 0xff);
  pci_cfg_cap_ = config_.AddCapability(window, window_writable);
  auto cap = msix_.Capability(0, kMsixTableOffset, kMsixPbaOffset);
  auto writable = Msix::CapabilityWritable();
  msix_cap_ = config_.AddCapability(cap, writable);
  // INTA# when the device has a line; the line register names the GSI.
  config_.SetInterruptPin(intx_gsi_ != 0 ? 1 : 0, static_cast<uint8_t>(intx_gsi_));
}

Status VirtioPciTransport::BarsAssigned() {
  if (vm_ == nullptr) return OkStatus();
  uint32_t bar = config_.bar_address(0);
  for (size_t i = 0; i < queue_events_.size(); ++i) {
    // Drivers write the 16-bit queue index; other widths take the MMIO path.
    RETURN_IF_ERROR_CTX(vm_->AssignMmioEventfd(queue_events_[i].get(),
                                               bar + kNotifyOffset + kNotifyMultiplier * i, 2),
                        name_ + ": queue notification");
    ioeventfd_registered_[i] = true;
  }
  return OkStatus();
}

// The BAR access a config access to the PCI_CFG window's data stands for, if
// any: the window's bar must be 0 and (offset, length) an aligned 1, 2 or 4
// byte access inside the BAR (4.1.4.8).
std::optional<VirtioPciTransport::WindowAccess> VirtioPciTransport::WindowLocked(uint32_t offset,
                                                                                 size_t size) {
  uint32_t data_at = pci_cfg_cap_ + 16u;
  if (offset >= data_at + 4 || offset + size <= data_at) return std::nullopt;
  uint32_t bar_offset = config_.dword(pci_cfg_cap_ + 8u);
  uint32_t length = config_.dword(pci_cfg_cap_ + 12u);
  if (config_.byte(pci_cfg_cap_ + 4u) != 0 || (length != 1 && length != 2 && length != 4) ||
      bar_offset % length != 0 || bar_offset >= kBarSize || offset != data_at || size < length) {
    return WindowAccess{0, 0};  // ignored: reads see zeros
  }
  return WindowAccess{bar_offset, length};
}

void VirtioPciTransport::ConfigRead(uint32_t offset, std::span<uint8_t> data) {
  std::optional<WindowAccess> window;
  {
    std::lock_guard lock(mu_);
    config_.Read(offset, data);
    window = WindowLocked(offset, data.size());
  }
  if (window && window->length != 0) Read(window->bar_offset, data.first(window->length));
}

void VirtioPciTransport::ConfigWrite(uint32_t offset, std::span<const uint8_t> data) {
  std::optional<WindowAccess> window;
  {
    std::lock_guard lock(mu_);
    window = WindowLocked(offset, data.size());
    if (!window) {
      config_.Write(offset, data);
      msix_.ControlWritten(config_.word(msix_cap_ + 2));
      UpdateIntxLocked();  // INTx disable may have changed
    }
  }
  // The BAR handlers take the locks themselves.
  if (window && window->length != 0) Write(window->bar_offset, data.first(window->length));
}

void VirtioPciTransport::Read(uint64_t offset, std::span<uint8_t> data) {
  if (offset < kIsrOffset) return CommonRead(offset - kCommonOffset, data);
  std::lock_guard lock(mu_);
  std::memset(data.data(), 0, data.size());
  if (offset == kIsrOffset) {
    if (!data.empty()) data[0] = ReadIsrLocked();
  } else if (offset >= kDeviceOffset && offset < kNotifyOffset) {
    device_.ReadConfig(offset - kDeviceOffset, data);
  } else if (offset >= kMsixTableOffset && offset < kMsixPbaOffset) {
    msix_.TableRead(offset - kMsixTableOffset, data);
  } else if (offset >= kMsixPbaOffset) {
    msix_.PbaRead(offset - kMsixPbaOffset, data);
  }
}

void VirtioPciTransport::Write(uint64_t offset, std::span<const uint8_t> data) {
  if (offset < kIsrOffset) return CommonWrite(offset - kCommonOffset, data);
  if (offset >= kNotifyOffset && offset < kMsixTableOffset) {
    // The userspace fallback of a queue notification: wake the worker the
    // same way KVM's ioeventfd would.
    uint64_t queue = (offset - kNotifyOffset) / kNotifyMultiplier;
    if (queue < queue_events_.size()) queue_events_[queue].Signal();
    return;
  }
  std::lock_guard lock(mu_);
  if (offset >= kDeviceOffset && offset < kNotifyOffset) {
    device_.WriteConfig(offset - kDeviceOffset, data);
  } else if (offset >= kMsixTableOffset && offset < kMsixPbaOffset) {
    msix_.TableWrite(offset - kMsixTableOffset, data);
  }
}

uint8_t VirtioPciTransport::ReadIsrLocked() {
  uint8_t value = isr_;
  isr_ = 0;  // reading acknowledges, and lowers INTx
  UpdateIntxLocked();
  return value;
}

void VirtioPciTransport::InterruptLocked(uint16_t vector, uint8_t isr_bit) {
  if (msix_.enabled()) {
    if (vector != virtio::kNoVector) msix_.Notify(vector);
    return;
  }
  isr_ |= isr_bit;
  UpdateIntxLocked();
}

void VirtioPciTransport::UpdateIntxLocked() {
  bool disabled = (config_.word(pci::kCommand) & pci::kCommandIntxDisable) != 0;
  bool level = isr_ != 0 && !disabled && !msix_.enabled();
  config_.SetWordBits(pci::kStatus, pci::kStatusInterrupt, isr_ != 0);
  if (level == intx_level_) return;
  intx_level_ = level;
  interrupts_.SetIntx(level);
}

uint64_t VirtioPciTransport::live_driver_features() {
  std::lock_guard lock(mu_);
  return (status_.load() & virtio::kStatusDriverOk) != 0 ? driver_features_ : 0;
}

void VirtioPciTransport::NotifyConfigChange() {
  std::lock_guard lock(mu_);
  ++config_generation_;
  InterruptLocked(config_msix_vector_, virtio::kIsrConfig);
}

void VirtioPciTransport::NeedsReset(const Error& why) {
  std::lock_guard lock(mu_);
  NeedsResetLocked(why.message());
}

void VirtioPciTransport::NeedsResetLocked(const std::string& why) {
  if (!warned_) {
    warned_ = true;
    std::fprintf(stderr, "ferry: %s: %s; the device needs a reset\n", name_.c_str(), why.c_str());
  }
  status_.store(status_.load() | virtio::kStatusNeedsReset);
  ++config_generation_;
  InterruptLocked(config_msix_vector_, virtio::kIsrConfig);
}

void VirtioPciTransport::Pause() {
  std::lock_guard lock(work_mu_);
  paused_ = true;
}

void VirtioPciTransport::Resume() {
  {
    std::lock_guard lock(work_mu_);
    paused_ = false;
  }
  worker_->Kick();  // notifications that came while paused are not lost
}

void VirtioPciTransport::ServiceQueues() {
  for (uint16_t i = 0; i < queues_.size(); ++i) {
    while (ServiceOne(i)) {
    }
  }
}

// Takes, handles and completes one request; false when there is nothing
// (more) to do on this queue now.
bool VirtioPciTransport::ServiceOne(uint16_t index) {
  std::lock_guard work(work_mu_);
  uint8_t status = status_.load();
  if (paused_ || !(status & virtio::kStatusDriverOk) ||
      (status & (virtio::kStatusNeedsReset | virtio::kStatusFailed))) {
    return false;
  }
  Virtqueue& queue = queues_[index];
  if (!queue.state().enabled || !device_.HasWork(index)) return false;
  Result<std::optional<DescriptorChain>> popped = queue.Pop(memory_);
  if (!popped.ok()) {
    NeedsReset(popped.error());
    return false;
  }
  if (!popped->has_value()) {
    Result<bool> more = queue.ArmNotification(memory_);
    if (!more.ok()) NeedsReset(more.error());
    return more.ok() && *more;
  }
  const DescriptorChain& chain = **popped;
  Result<uint32_t> written = device_.HandleRequest(index, chain, memory_);
  if (!written.ok()) {
    NeedsReset(written.error());
    return false;
  }
  if (*written == VirtioDevice::kChainUnused) {
    --queue.state().last_avail_idx;  // the driver's chain waits in the ring as it was
    return false;
  }
  Status pushed = queue.PushUsed(memory_, chain.head, *written);
  Result<bool> notify = pushed.ok() ? queue.ShouldNotify(memory_) : Result<bool>(pushed.error());
  if (!notify.ok()) {
    NeedsReset(notify.error());
    return false;
  }
  if (*notify) {
    std::lock_guard lock(mu_);
    InterruptLocked(queue.state().msix_vector, virtio::kIsrQueue);
  }
  return true;
}

}  // namespace ferry
