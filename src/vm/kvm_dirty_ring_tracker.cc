#include "vm/kvm_dirty_ring_tracker.h"

#include <algorithm>

#include "base/clock.h"
#include "base/units.h"

namespace ferry {

Result<DirtyTrackingChoice> ParseDirtyTracking(const std::string& text) {
  DirtyTrackingChoice choice;
  if (text == "log") return choice;
  choice.method = DirtyTrackingChoice::Method::kRing;
  if (text == "ring") return choice;
  if (text.rfind("ring:", 0) == 0) {
    Result<uint64_t> entries = ParseUnsigned(text.substr(5));
    if (entries.ok() && *entries >= 256 && *entries <= (1u << 20) &&
        (*entries & (*entries - 1)) == 0) {
      choice.ring_entries = static_cast<uint32_t>(*entries);
      return choice;
    }
  }
  return Error(ErrorCode::kInvalidArgument,
               "--dirty-tracking '" + text +
                   "': expected log, ring or ring:ENTRIES (a power of two, at least 256)");
}

SlotPageMap::SlotPageMap(const GuestMemory& memory) {
  for (const MemoryRegion& region : memory.regions()) {
    first_page_.push_back(static_cast<uint64_t>(region.host - memory.host_base()) / 4096);
    pages_.push_back(region.size / 4096);
  }
}

std::optional<uint64_t> SlotPageMap::PageOf(uint32_t slot, uint64_t offset) const {
  uint32_t id = slot & 0xffff;  // the upper half is the address space (SMM: the same RAM)
  if (id >= first_page_.size() || offset >= pages_[id]) return std::nullopt;
  return first_page_[id] + offset;
}

Result<std::unique_ptr<DirtyRings>> DirtyRings::Enable(Vm& vm, uint32_t entries) {
  ASSIGN_OR_RETURN(entries, EnableDirtyRing(vm, entries, DirtyTrackingChoice::kDefaultRingEntries));
  return std::unique_ptr<DirtyRings>(new DirtyRings(vm, entries));
}

Status DirtyRings::AddVcpu(const Vcpu& vcpu) {
  ASSIGN_OR_RETURN(VcpuDirtyRing ring, VcpuDirtyRing::Map(vcpu.fd(), entries_));
  std::lock_guard lock(mu_);
  rings_.push_back(std::move(ring));
  return OkStatus();
}

Status DirtyRings::HarvestLocked(Reset reset) {
  int64_t start = MonotonicNs();
  uint64_t taken = 0;
  for (VcpuDirtyRing& ring : rings_) {
    taken += ring.view().Harvest([this](uint32_t slot, uint64_t offset) {
      if (!pending_) return;  // not attached: drained and dropped
      std::optional<uint64_t> page = slots_.PageOf(slot, offset);
      if (page) {
        pending_->Set(*page);
      } else {
        ++stats_.bad_entries;
      }
    });
  }
  // Only after every harvested page is recorded: from here a write to one of
  // them faults again and lands in a ring.
  if (reset == Reset::kAlways || (reset == Reset::kIfTaken && taken > 0)) {
    ASSIGN_OR_RETURN(uint64_t reset, ResetDirtyRings(vm_));
    (void)reset;
  }
  stats_.entries += taken;
  stats_.harvest_ns += MonotonicNs() - start;
  return OkStatus();
}

Status DirtyRings::OnDirtyRingFull() {
  std::lock_guard lock(mu_);
  ++stats_.full_exits;
  return HarvestLocked(Reset::kAlways);
}

Status DirtyRings::Attach(const GuestMemory& memory) {
  std::lock_guard lock(mu_);
  pending_.reset();
  RETURN_IF_ERROR(HarvestLocked(Reset::kAlways));  // whatever an earlier migration left behind
  slots_ = SlotPageMap(memory);
  pending_.emplace(memory.ram_bytes() / 4096);
  return OkStatus();
}

void DirtyRings::Detach() {
  std::lock_guard lock(mu_);
  pending_.reset();
}

Result<migration::DirtyBitmap> DirtyRings::Collect(bool rearm) {
  std::lock_guard lock(mu_);
  if (!pending_) return Error(ErrorCode::kFailedPrecondition, "dirty rings are not attached");
  RETURN_IF_ERROR(HarvestLocked(rearm ? Reset::kIfTaken : Reset::kNever));
  migration::DirtyBitmap dirty(pending_->pages());
  std::swap(dirty, *pending_);
  return dirty;
}

DirtyRings::Stats DirtyRings::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

Result<std::unique_ptr<KvmDirtyRingTracker>> KvmDirtyRingTracker::Start(Vm& vm,
                                                                        const GuestMemory& memory,
                                                                        DirtyRings& rings) {
  RETURN_IF_ERROR(rings.Attach(memory));
  std::unique_ptr<KvmDirtyRingTracker> tracker(new KvmDirtyRingTracker(vm, memory, rings));
  migration::StartVmmDirtyLog(memory);
  // Write-protects every page. Nothing before this needs reporting: the first
  // round reads all of memory after it.
  RETURN_IF_ERROR(memory.RegisterWith(vm, KVM_MEM_LOG_DIRTY_PAGES));
  return tracker;
}

KvmDirtyRingTracker::~KvmDirtyRingTracker() {
  migration::StopVmmDirtyLog(memory_);
  (void)memory_.RegisterWith(vm_, 0);
  rings_.Detach();
}

// Pages the VMM itself writes into guest memory (devices) reach neither the
// ring nor the log: both Collects merge the VMM's own log, as KvmDirtyTracker does.
Result<migration::DirtyBitmap> KvmDirtyRingTracker::Collect() {
  ASSIGN_OR_RETURN(migration::DirtyBitmap dirty, rings_.Collect());
  migration::MergeVmmDirtyLog(memory_, dirty);
  return dirty;
}

Result<migration::DirtyBitmap> KvmDirtyRingTracker::CollectFinal() {
  ASSIGN_OR_RETURN(migration::DirtyBitmap dirty, rings_.Collect(false));
  migration::MergeVmmDirtyLog(memory_, dirty);
  return dirty;
}

uint64_t KvmDirtyRingTracker::ring_full_exits() const {
  return rings_.stats().full_exits - full_exits_at_start_;
}

}  // namespace ferry
