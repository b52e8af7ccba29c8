// Dirty tracking through KVM's dirty log with manual protect
// (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2): Collect reads each slot's bitmap and
// re-protects exactly the pages it reports, so tracking costs nothing for
// pages the guest leaves alone. The dirty ring is the alternative
// (kvm_dirty_ring_tracker.h); docs/benchmarks.md compares them.
#pragma once

#include <memory>

#include "kvm/vm.h"
#include "machine/guest_memory.h"
#include "migration/dirty_tracker.h"

namespace ferry {

class KvmDirtyTracker final : public migration::DirtyTracker {
 public:
  // Turns on dirty logging for every memory slot. With manual protect and
  // "initially set", the first Collect reports every page.
  static Result<std::unique_ptr<KvmDirtyTracker>> Start(Vm& vm, const GuestMemory& memory);
  ~KvmDirtyTracker() override;  // turns logging off again

  Result<migration::DirtyBitmap> Collect() override;
  Result<migration::DirtyBitmap> CollectFinal() override;  // no KVM_CLEAR_DIRTY_LOG
  const char* method() const override { return "log"; }

 private:
  KvmDirtyTracker(Vm& vm, const GuestMemory& memory) : vm_(vm), memory_(memory) {}
  Result<migration::DirtyBitmap> Read(bool rearm);
  Vm& vm_;
  const GuestMemory& memory_;
  std::vector<uint64_t> slot_bits_;  // scratch, sized for the largest slot
};

// Enables manual-protect dirty logging on a new VM when KVM offers it.
Status EnableManualDirtyProtect(Vm& vm);

}  // namespace ferry
