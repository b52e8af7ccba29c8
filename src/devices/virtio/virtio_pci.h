// The virtio 1.x PCI transport, modern only (4.1): vendor 0x1af4, device
// 0x1040 + type, revision 1, one 32 KiB memory BAR holding
//   0x0000 common configuration      0x3000 notifications (4 bytes per queue)
//   0x1000 ISR status                0x4000 MSI-X table
//   0x2000 device configuration      0x6000 MSI-X pending bits
// with the virtio vendor capabilities and MSI-X in config space. Queue
// notifications are KVM ioeventfds on the notify addresses (no exit to
// userspace); a notify write that still reaches the MMIO bus signals the same
// eventfd. Requests run on the device's QueueWorker thread.
//
// Locking: work_mu_ is held by the worker for each single request (pop,
// handle, push, interrupt) and by anything that changes what the worker
// relies on (status writes, reset, pause, save, restore); mu_ guards the
// registers and is always taken after work_mu_.
//
// Quiesce: Pause() takes work_mu_, so it returns only when no request is in
// flight; the worker then takes no new request until Resume(). Every request
// the device took from the avail ring is in the used ring by then.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/event_fd.h"
#include "devices/interrupts.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci_device.h"
#include "devices/virtio/queue_worker.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_pci_state.h"
#include "kvm/vm.h"

namespace ferry {

class VirtioPciTransport final : public PciDevice, private IoDevice {
 public:
  static constexpr uint32_t kBarSize = 0x8000;
  static constexpr uint32_t kCommonOffset = 0x0000;
  static constexpr uint32_t kIsrOffset = 0x1000;
  static constexpr uint32_t kDeviceOffset = 0x2000;
  static constexpr uint32_t kNotifyOffset = 0x3000;
  static constexpr uint32_t kNotifyMultiplier = 4;
  static constexpr uint32_t kMsixTableOffset = 0x4000;
  static constexpr uint32_t kMsixPbaOffset = 0x6000;

  // `vm` may be null (unit tests): notifications then only take the MMIO path.
  // `intx_gsi` 0: no INTx line (MSI-X only). Starts the worker thread with
  // the device paused: it serves no request before the first Resume() (the
  // VM starts its devices when it starts its vCPUs).
  static Result<std::unique_ptr<VirtioPciTransport>> Create(VirtioDevice& device,
                                                            GuestMemory& memory,
                                                            InterruptSink& interrupts, Vm* vm,
                                                            uint32_t intx_gsi, std::string name);
  ~VirtioPciTransport() override;

  // PciDevice
  const std::string& name() const override { return name_; }
  void ConfigRead(uint32_t offset, std::span<uint8_t> data) override;
  void ConfigWrite(uint32_t offset, std::span<const uint8_t> data) override;
  std::vector<Bar> Bars() override { return {{0, this}}; }
  Status BarsAssigned() override;

  // The BAR (also reachable for tests through the PCI bus's MMIO mapping).
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;
  IoDevice& bar() { return *this; }

  // Quiesce (see above) and back.
  void Pause();
  void Resume();
  // Serves every queue until it is empty; the worker thread calls this.
  void ServiceQueues();

  uint64_t offered_features() const { return offered_; }
  // What the driver accepted; 0 until it has set DRIVER_OK.
  uint64_t live_driver_features();
  // The device changed its configuration on its own (virtio-net's announce
  // request): a new configuration generation and a configuration interrupt.
  void NotifyConfigChange();
  uint8_t status() const { return status_.load(); }
  VirtioPciState Save();
  Status Restore(const VirtioPciState& state);

 protected:
  PciConfigSpace& config() override { return config_; }

 private:
  VirtioPciTransport(VirtioDevice& device, GuestMemory& memory, InterruptSink& interrupts, Vm* vm,
                     uint32_t intx_gsi, std::string name);
  void BuildCapabilities();
  struct WindowAccess {
    uint32_t bar_offset;
    uint32_t length;  // 0: an access the window ignores
  };
  std::optional<WindowAccess> WindowLocked(uint32_t offset, size_t size);

  // virtio_pci_common.cc
  void CommonRead(uint64_t offset, std::span<uint8_t> data);
  void CommonWrite(uint64_t offset, std::span<const uint8_t> data);
  std::vector<uint8_t> CommonImage();
  void ApplyCommonField(uint32_t field, uint64_t value);
  void WriteStatus(uint8_t value);
  void ResetLocked();

  bool ServiceOne(uint16_t index);
  void NeedsReset(const Error& why);
  void NeedsResetLocked(const std::string& why);
  void InterruptLocked(uint16_t vector, uint8_t isr_bit);
  void UpdateIntxLocked();
  uint8_t ReadIsrLocked();

  std::string name_;
  VirtioDevice& device_;
  GuestMemory& memory_;
  InterruptSink& interrupts_;
  Vm* vm_;
  uint32_t intx_gsi_;
  uint64_t offered_;
  PciConfigSpace config_;
  uint8_t msix_cap_ = 0;
  uint8_t pci_cfg_cap_ = 0;

  std::mutex work_mu_;
  bool paused_ = true;  // guarded by work_mu_

  std::mutex mu_;
  Msix msix_;
  std::vector<Virtqueue> queues_;
  std::vector<EventFd> queue_events_;
  std::vector<bool> ioeventfd_registered_;
  uint64_t driver_features_ = 0;
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  uint16_t config_msix_vector_ = 0xffff;
  uint16_t queue_select_ = 0;
  std::atomic<uint8_t> status_{0};  // written under mu_, read by the worker too
  uint8_t config_generation_ = 0;
  uint8_t isr_ = 0;
  bool intx_level_ = false;
  bool warned_ = false;

  std::unique_ptr<QueueWorker> worker_;  // last: stopped before anything else goes
};

}  // namespace ferry
