#include "vm/device_set.h"

#include "devices/virtio/rng.h"
#include "devices/virtio/virtio_spec.h"
#include "machine/layout.h"

namespace ferry {

Result<std::unique_ptr<DeviceSet>> DeviceSet::Create(Vm& vm, GuestMemory& memory,
                                                     const std::vector<DiskSpec>& disks, bool rng) {
  std::unique_ptr<DeviceSet> set(new DeviceSet(vm));
  for (size_t i = 0; i < disks.size(); ++i) {
    ASSIGN_OR_RETURN(RawDisk disk, RawDisk::Open(disks[i]));
    auto block = std::make_unique<VirtioBlock>(std::move(disk));
    VirtioBlock* raw = block.get();
    RETURN_IF_ERROR(set->Add(vm, memory, std::move(block), raw, "virtio-blk" + std::to_string(i)));
    set->descriptors_.push_back(
        {virtio::kDeviceBlock, disks[i].read_only ? state::DeviceDescriptor::kReadOnly : 0u});
  }
  if (rng) {
    RETURN_IF_ERROR(set->Add(vm, memory, std::make_unique<VirtioRng>(), nullptr, "virtio-rng"));
    set->descriptors_.push_back({virtio::kDeviceRng, 0});
  }
  return set;
}

Status DeviceSet::Add(Vm& vm, GuestMemory& memory, std::unique_ptr<VirtioDevice> device,
                      VirtioBlock* block, const std::string& name) {
  size_t index = entries_.size();
  uint32_t gsi = index < kIntxLines ? kFirstIntxGsi + static_cast<uint32_t>(index) : 0;
  Entry entry;
  entry.block = block;
  ASSIGN_OR_RETURN(
      entry.interrupts,
      KvmInterrupts::Create(vm, router_, static_cast<uint16_t>(device->num_queues() + 1), gsi));
  ASSIGN_OR_RETURN(entry.transport,
                   VirtioPciTransport::Create(*device, memory, *entry.interrupts, &vm, gsi, name));
  entry.device = std::move(device);
  RETURN_IF_ERROR(bus_.Add(entry.transport.get()));
  entries_.push_back(std::move(entry));
  return OkStatus();
}

Result<bool> DeviceSet::MatchSaved(const std::vector<DiskSpec>& disks,
                                   const std::vector<state::DeviceDescriptor>& saved) {
  size_t saved_disks = 0;
  bool rng = false;
  for (const state::DeviceDescriptor& d : saved) {
    bool block = d.type == virtio::kDeviceBlock;
    // ferry builds disks first, then the rng: anything else is not ours.
    if ((block && rng) || (!block && d.type != virtio::kDeviceRng) || (!block && rng)) {
      return Error(ErrorCode::kCorrupt, "the saved machine's devices are in an unknown order");
    }
    if (block) {
      if (saved_disks < disks.size()) {
        bool read_only = (d.flags & state::DeviceDescriptor::kReadOnly) != 0;
        if (read_only != disks[saved_disks].read_only) {
          return Error(
              ErrorCode::kInvalidArgument,
              "--disk " + disks[saved_disks].path + ": the saved VM had disk " +
                  std::to_string(saved_disks + 1) +
                  (read_only ? " read-only: add ,readonly" : " read-write: drop ,readonly"));
        }
      }
      ++saved_disks;
    } else {
      rng = true;
    }
  }
  if (saved_disks != disks.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 "the saved VM has " + std::to_string(saved_disks) + " disk(s) but " +
                     std::to_string(disks.size()) +
                     " --disk given: give one --disk per disk, in the original order");
  }
  return rng;
}

Status DeviceSet::Wire(IoBus& ports, IoBus& mmio) {
  RETURN_IF_ERROR(bus_.RegisterPorts(ports));
  return bus_.AssignBars(mmio, layout::kMmioHoleStart, layout::kIoapicBase);
}

void DeviceSet::Pause() {
  for (Entry& e : entries_) e.transport->Pause();
}

void DeviceSet::Resume() {
  for (Entry& e : entries_) e.transport->Resume();
}

std::vector<state::VirtioDeviceState> DeviceSet::Save() {
  std::vector<state::VirtioDeviceState> saved;
  for (Entry& e : entries_) {
    state::VirtioDeviceState s;
    s.transport = e.transport->Save();
    if (e.block) s.block = e.block->Save();
    saved.push_back(std::move(s));
  }
  return saved;
}

Status DeviceSet::Restore(const std::vector<state::VirtioDeviceState>& saved) {
  if (saved.size() != entries_.size()) {
    return Error(ErrorCode::kCorrupt, "the state has " + std::to_string(saved.size()) +
                                          " devices, the VM " + std::to_string(entries_.size()));
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].block) RETURN_IF_ERROR(entries_[i].block->Restore(saved[i].block));
    RETURN_IF_ERROR(entries_[i].transport->Restore(saved[i].transport));
  }
  return OkStatus();
}

}  // namespace ferry
