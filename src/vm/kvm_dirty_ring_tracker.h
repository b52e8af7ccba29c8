// Dirty tracking through KVM's per-vCPU dirty rings (kvm/dirty_ring.h), the
// alternative to the memslot dirty log (kvm_dirty_tracker.h). Which one a VM
// uses is fixed when it is created (the ring must exist before the vCPUs):
// `--dirty-tracking log|ring` on run, restore and receive. docs/benchmarks.md
// has the comparison that chose the default.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kvm/dirty_ring.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "machine/guest_memory.h"
#include "migration/dirty_tracker.h"

namespace ferry {

struct DirtyTrackingChoice {
  enum class Method { kLog, kRing };
  Method method = Method::kLog;
  uint32_t ring_entries = 0;  // per vCPU; 0: kDefaultRingEntries, or less if KVM allows less
  static constexpr uint32_t kDefaultRingEntries = 65536;  // 1 MiB per vCPU

  bool ring() const { return method == Method::kRing; }
  const char* name() const { return ring() ? "ring" : "log"; }
};

// "log", "ring" or "ring:ENTRIES" (a power of two).
Result<DirtyTrackingChoice> ParseDirtyTracking(const std::string& text);

// Where a ring entry (slot, page offset in the slot) lands in the RAM page
// index (RAM offset / 4096). Entries for unknown slots or out-of-range
// offsets yield nothing.
class SlotPageMap {
 public:
  SlotPageMap() = default;
  explicit SlotPageMap(const GuestMemory& memory);
  SlotPageMap(std::vector<uint64_t> first_page, std::vector<uint64_t> pages)
      : first_page_(std::move(first_page)), pages_(std::move(pages)) {}
  std::optional<uint64_t> PageOf(uint32_t slot, uint64_t offset) const;

 private:
  std::vector<uint64_t> first_page_;  // per slot
  std::vector<uint64_t> pages_;
};

// All of a VM's rings, for its whole life. Harvests come from the migration
// thread (Collect) and from vCPU threads whose ring filled up; one lock keeps
// each ring with one harvester and every harvested page recorded before
// KVM_RESET_DIRTY_RINGS re-protects it.
class DirtyRings final : public DirtyRingFullHandler {
 public:
  struct Stats {
    uint64_t full_exits = 0;   // KVM_EXIT_DIRTY_RING_FULL handled
    uint64_t entries = 0;      // entries harvested
    uint64_t bad_entries = 0;  // entries naming no RAM page (ignored)
    int64_t harvest_ns = 0;    // harvesting and resetting, all threads
  };

  // On a VM without vCPUs. Returns kUnimplemented when KVM has no ring.
  static Result<std::unique_ptr<DirtyRings>> Enable(Vm& vm, uint32_t entries);
  Status AddVcpu(const Vcpu& vcpu);  // before the vCPUs run
  uint32_t entries() const { return entries_; }

  Status OnDirtyRingFull() override;

  // Starts recording pages (dropping what the rings held before); Detach stops.
  Status Attach(const GuestMemory& memory);
  void Detach();
  // Harvests every ring and returns the pages recorded since the last call
  // (or Attach), re-protected unless `rearm` is false (the final collect: the
  // entries then stay unreset until the next Attach drains them).
  Result<migration::DirtyBitmap> Collect(bool rearm = true);
  Stats stats() const;

 private:
  DirtyRings(Vm& vm, uint32_t entries) : vm_(vm), entries_(entries) {}
  // kIfTaken: reset when this harvest took entries; kAlways: also entries an
  // earlier harvest left unreset (CollectFinal), which would otherwise keep
  // a ring full forever; kNever: leave them.
  enum class Reset { kIfTaken, kAlways, kNever };
  Status HarvestLocked(Reset reset);

  Vm& vm_;
  uint32_t entries_;
  mutable std::mutex mu_;
  std::vector<VcpuDirtyRing> rings_;
  SlotPageMap slots_;
  std::optional<migration::DirtyBitmap> pending_;  // set while attached
  Stats stats_;
};

class KvmDirtyRingTracker final : public migration::DirtyTracker {
 public:
  // Turns on dirty logging for every slot: every page is write-protected and
  // its next write lands in a ring.
  static Result<std::unique_ptr<KvmDirtyRingTracker>> Start(Vm& vm, const GuestMemory& memory,
                                                            DirtyRings& rings);
  ~KvmDirtyRingTracker() override;

  Result<migration::DirtyBitmap> Collect() override;
  Result<migration::DirtyBitmap> CollectFinal() override;  // no KVM_RESET_DIRTY_RINGS
  const char* method() const override { return "ring"; }
  uint64_t ring_full_exits() const override;

 private:
  KvmDirtyRingTracker(Vm& vm, const GuestMemory& memory, DirtyRings& rings)
      : vm_(vm), memory_(memory), rings_(rings), full_exits_at_start_(rings.stats().full_exits) {}
  Vm& vm_;
  const GuestMemory& memory_;
  DirtyRings& rings_;
  uint64_t full_exits_at_start_;
};

}  // namespace ferry
