#include "vm/device_set.h"

#include "devices/virtio/rng.h"
#include "devices/virtio/virtio_spec.h"
#include "machine/layout.h"

namespace ferry {

Result<std::unique_ptr<DeviceSet>> DeviceSet::Create(Vm& vm, GuestMemory& memory,
                                                     const std::vector<DiskSpec>& disks,
                                                     const std::vector<NetSpec>& nets, bool rng,
                                                     bool lock_disks) {
  std::unique_ptr<DeviceSet> set(new DeviceSet(vm));
  for (size_t i = 0; i < disks.size(); ++i) {
    ASSIGN_OR_RETURN(RawDisk disk, RawDisk::Open(disks[i], lock_disks));
    auto block = std::make_unique<VirtioBlock>(std::move(disk));
    VirtioBlock* raw = block.get();
    RETURN_IF_ERROR(set->Add(vm, memory, std::move(block), raw, "virtio-blk" + std::to_string(i)));
    set->descriptors_.push_back(
        {virtio::kDeviceBlock, disks[i].read_only ? state::DeviceDescriptor::kReadOnly : 0u});
  }
  for (size_t i = 0; i < nets.size(); ++i) {
    Result<Tap> tap = Tap::Open(nets[i].tap);
    if (!tap.ok()) return std::move(tap).error().WithContext("--net tap=" + nets[i].tap);
    // A MAC left out is generated once; the device state then carries it.
    MacAddress mac = nets[i].mac.value_or(RandomLocalMac());
    auto net = std::make_unique<VirtioNet>(std::move(*tap), mac, nets[i].mac.has_value());
    VirtioNet* raw = net.get();
    RETURN_IF_ERROR(
        set->Add(vm, memory, std::move(net), nullptr, "virtio-net" + std::to_string(i)));
    set->entries_.back().net = raw;
    set->descriptors_.push_back({virtio_net::kDeviceNet, 0});
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
                                   const std::vector<NetSpec>& nets,
                                   const std::vector<state::DeviceDescriptor>& saved) {
  size_t saved_disks = 0;
  size_t saved_nets = 0;
  bool rng = false;
  // ferry builds disks first, then NICs, then the rng: anything else is not ours.
  auto rank = [](uint32_t type) {
    return type == virtio::kDeviceBlock ? 0 : type == virtio_net::kDeviceNet ? 1 : 2;
  };
  int last_rank = 0;
  for (const state::DeviceDescriptor& d : saved) {
    bool block = d.type == virtio::kDeviceBlock;
    bool known = block || d.type == virtio_net::kDeviceNet || d.type == virtio::kDeviceRng;
    if (!known || rank(d.type) < last_rank || rng) {
      return Error(ErrorCode::kCorrupt, "the saved machine's devices are in an unknown order");
    }
    last_rank = rank(d.type);
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
    } else if (d.type == virtio_net::kDeviceNet) {
      ++saved_nets;
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
  if (saved_nets != nets.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 "the saved VM has " + std::to_string(saved_nets) + " NIC(s) but " +
                     std::to_string(nets.size()) +
                     " --net given: give one --net tap=NAME per NIC, in the original order");
  }
  return rng;
}

Status DeviceSet::Wire(IoBus& ports, IoBus& mmio) {
  RETURN_IF_ERROR(bus_.RegisterPorts(ports));
  return bus_.AssignBars(mmio, layout::kMmioHoleStart, layout::kIoapicBase);
}

std::vector<VirtioBlock*> DeviceSet::blocks() const {
  std::vector<VirtioBlock*> out;
  for (const Entry& e : entries_) {
    if (e.block) out.push_back(e.block);
  }
  return out;
}

Status DeviceSet::ReleaseDisks() {
  for (Entry& e : entries_) {
    if (e.block) RETURN_IF_ERROR(e.block->mutable_disk().Release());
  }
  return OkStatus();
}

Status DeviceSet::ClaimDisks() {
  for (Entry& e : entries_) {
    if (e.block) RETURN_IF_ERROR(e.block->mutable_disk().Lock());
  }
  return OkStatus();
}

bool DeviceSet::disks_released() const {
  for (const Entry& e : entries_) {
    if (e.block && !e.block->disk().locked()) return true;
  }
  return false;
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
    if (e.net) s.net = e.net->Save();
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
    if (entries_[i].net) RETURN_IF_ERROR(entries_[i].net->Restore(saved[i].net));
    RETURN_IF_ERROR(entries_[i].transport->Restore(saved[i].transport));
  }
  return OkStatus();
}

void DeviceSet::AnnounceNics() {
  for (Entry& e : entries_) {
    if (!e.net) continue;
    e.net->Announce();
    if (e.net->RequestGuestAnnounce(e.transport->live_driver_features())) {
      e.transport->NotifyConfigChange();
    }
  }
}

}  // namespace ferry
