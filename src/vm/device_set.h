// The VM's PCI devices: the bus (host bridge at 00:00.0), then one virtio-blk
// per --disk in the order given (slots 1..), then one virtio-net per --net,
// then virtio-rng if asked for.
// Owns the devices, their transports, worker threads and interrupt plumbing,
// and gives the VM one place to pause, resume, save and restore them.
#pragma once

#include <memory>
#include <vector>

#include "devices/block/raw_disk.h"
#include "devices/interrupts.h"
#include "devices/pci/pci_bus.h"
#include "devices/virtio/block.h"
#include "devices/virtio/net.h"
#include "devices/virtio/virtio_pci.h"
#include "kvm/vm.h"
#include "machine/guest_memory.h"
#include "machine/io_bus.h"
#include "state/virtio_state.h"

namespace ferry {

// IOAPIC pins 16-23 serve as INTx lines of the first eight devices; later
// devices have MSI-X only (docs/devices.md).
inline constexpr uint32_t kFirstIntxGsi = 16;
inline constexpr uint32_t kIntxLines = 8;

class DeviceSet {
 public:
  // Opens (and locks) every image. Nothing runs until Resume().
  // `lock_disks` false: the images are opened but locked only by
  // ClaimDisks (a migration destination, while the source still holds them).
  static Result<std::unique_ptr<DeviceSet>> Create(Vm& vm, GuestMemory& memory,
                                                   const std::vector<DiskSpec>& disks,
                                                   const std::vector<NetSpec>& nets, bool rng,
                                                   bool lock_disks = true);
  // For restore and receive: checks that `disks` and `nets` fit the saved
  // machine's devices (count, order, read-only) and returns whether it had an rng.
  static Result<bool> MatchSaved(const std::vector<DiskSpec>& disks,
                                 const std::vector<NetSpec>& nets,
                                 const std::vector<state::DeviceDescriptor>& saved);

  // Config ports on `ports`, every BAR on `mmio` (from the MMIO hole's start).
  Status Wire(IoBus& ports, IoBus& mmio);

  // Quiesce: when Pause returns, every request a device took from a ring is
  // completed in the used ring, and none is taken until Resume.
  void Pause();
  void Resume();

  // Flush and unlock every image (the source, before `go`), and lock them
  // (again). The devices must be paused around a release.
  // The block devices, in slot order.
  std::vector<VirtioBlock*> blocks() const;
  Status ReleaseDisks();
  Status ClaimDisks();
  bool disks_released() const;

  const std::vector<state::DeviceDescriptor>& descriptors() const { return descriptors_; }
  std::vector<state::VirtioDeviceState> Save();
  Status Restore(const std::vector<state::VirtioDeviceState>& saved);
  // Each NIC announces the guest's MAC on its TAP (after a restore or a
  // migration, so that bridges learn the new port at once), and asks a
  // guest that took GUEST_ANNOUNCE to announce its own addresses.
  void AnnounceNics();

 private:
  explicit DeviceSet(Vm& vm) : router_(vm) {}
  Status Add(Vm& vm, GuestMemory& memory, std::unique_ptr<VirtioDevice> device, VirtioBlock* block,
             const std::string& name);

  struct Entry {
    std::unique_ptr<VirtioDevice> device;
    VirtioBlock* block = nullptr;  // the same device, when it is a disk
    VirtioNet* net = nullptr;      // the same device, when it is a NIC
    std::unique_ptr<KvmInterrupts> interrupts;
    std::unique_ptr<VirtioPciTransport> transport;  // last: its worker stops first
  };
  MsiRouter router_;
  PciBus bus_;
  std::vector<state::DeviceDescriptor> descriptors_;
  std::vector<Entry> entries_;
};

}  // namespace ferry
