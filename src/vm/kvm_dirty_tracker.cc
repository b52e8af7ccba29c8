#include "vm/kvm_dirty_tracker.h"

#include <algorithm>

namespace ferry {

Status EnableManualDirtyProtect(Vm& vm) {
  return vm.EnableCap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
                      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET);
}

Result<std::unique_ptr<KvmDirtyTracker>> KvmDirtyTracker::Start(Vm& vm, const GuestMemory& memory) {
  RETURN_IF_ERROR(memory.RegisterWith(vm, KVM_MEM_LOG_DIRTY_PAGES));
  std::unique_ptr<KvmDirtyTracker> tracker(new KvmDirtyTracker(vm, memory));
  uint64_t largest = 0;
  for (const MemoryRegion& region : memory.regions()) largest = std::max(largest, region.size);
  tracker->slot_bits_.resize((largest / 4096 + 63) / 64);
  migration::StartVmmDirtyLog(memory);
  return tracker;
}

KvmDirtyTracker::~KvmDirtyTracker() {
  migration::StopVmmDirtyLog(memory_);
  (void)memory_.RegisterWith(vm_, 0);
}

Result<migration::DirtyBitmap> KvmDirtyTracker::Collect() {
  migration::DirtyBitmap dirty(memory_.ram_bytes() / 4096);
  const auto& regions = memory_.regions();
  for (size_t slot = 0; slot < regions.size(); ++slot) {
    const MemoryRegion& region = regions[slot];
    uint64_t pages = region.size / 4096;
    uint64_t first_word = static_cast<uint64_t>(region.host - memory_.host_base()) / 4096 / 64;
    uint64_t* bits = slot_bits_.data();
    RETURN_IF_ERROR(vm_.GetDirtyLog(static_cast<uint32_t>(slot), bits));
    RETURN_IF_ERROR(
        vm_.ClearDirtyLog(static_cast<uint32_t>(slot), 0, static_cast<uint32_t>(pages), bits));
    std::copy(bits, bits + (pages + 63) / 64,
              dirty.words().begin() + static_cast<long>(first_word));
  }
  migration::MergeVmmDirtyLog(memory_, dirty);
  return dirty;
}

}  // namespace ferry
