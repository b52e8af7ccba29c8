// KVM's per-vCPU dirty ring (KVM_CAP_DIRTY_LOG_RING_ACQ_REL, or the older
// KVM_CAP_DIRTY_LOG_RING on x86): instead of a bitmap per memory slot, KVM
// appends one entry (slot, page offset) to the writing vCPU's ring the first
// time a page is written after it was write-protected. The VMM harvests
// entries (DIRTY -> RESET, acquire/release), then KVM_RESET_DIRTY_RINGS
// re-protects the harvested pages and frees their entries. A vCPU whose ring
// is (softly) full exits with KVM_EXIT_DIRTY_RING_FULL until it is harvested.
//
// Only slots with KVM_MEM_LOG_DIRTY_PAGES log pages, and the ring must be
// enabled before any vCPU exists (kernel Documentation/virt/kvm/api.rst).
#pragma once

#include <linux/kvm.h>

#include <atomic>
#include <cstdint>

#include "base/mapping.h"
#include "base/result.h"
#include "kvm/vm.h"

namespace ferry {

// Enables the ring with `entries` entries per vCPU (a power of two; 0: up to
// `default_entries`, fewer if the host allows fewer) on a VM without vCPUs and
// returns the size chosen. Fails with kUnimplemented when the host offers no
// ring, and with kInvalidArgument when `entries` is out of the host's range.
Result<uint32_t> EnableDirtyRing(Vm& vm, uint32_t entries, uint32_t default_entries);

// Re-protects every harvested page and frees its ring entry, on every vCPU.
// Returns the number of entries reset.
Result<uint64_t> ResetDirtyRings(Vm& vm);

// The harvesting side of one ring, over memory laid out as KVM's ring (an
// array of kvm_dirty_gfn of a power-of-two size). Pure logic: tests run it on
// plain memory. Only one thread may harvest a given ring at a time.
class DirtyRingView {
 public:
  DirtyRingView() = default;
  DirtyRingView(kvm_dirty_gfn* entries, uint32_t count) : entries_(entries), mask_(count - 1) {}

  // Calls f(slot, offset) for each entry KVM has published since the last
  // harvest, in ring order, and hands it back for reset. Stops at the first
  // entry not (yet) published. Returns how many entries it took.
  template <typename F>
  uint32_t Harvest(F&& f) {
    uint32_t taken = 0;
    for (;;) {
      kvm_dirty_gfn& entry = entries_[fetch_ & mask_];
      std::atomic_ref<uint32_t> flags(entry.flags);
      // Acquire: slot and offset are read only after KVM published them.
      if ((flags.load(std::memory_order_acquire) & KVM_DIRTY_GFN_F_DIRTY) == 0) break;
      f(entry.slot, entry.offset);
      // Release: KVM may reuse the entry only after we have read it.
      flags.store(KVM_DIRTY_GFN_F_RESET, std::memory_order_release);
      ++fetch_;
      ++taken;
      // A ring never holds more than its size; stop rather than lap it.
      if (taken > mask_) break;
    }
    return taken;
  }

  uint32_t fetch_index() const { return fetch_; }
  uint32_t size() const { return mask_ + 1; }

 private:
  kvm_dirty_gfn* entries_ = nullptr;
  uint32_t mask_ = 0;
  uint32_t fetch_ = 0;  // free-running, as KVM's indices; wraps at 2^32 with the ring
};

// One vCPU's ring, mapped from its fd at KVM_DIRTY_LOG_PAGE_OFFSET.
class VcpuDirtyRing {
 public:
  static Result<VcpuDirtyRing> Map(int vcpu_fd, uint32_t entries);
  DirtyRingView& view() { return view_; }

 private:
  VcpuDirtyRing(Mapping mapping, uint32_t entries)
      : mapping_(std::move(mapping)),
        view_(reinterpret_cast<kvm_dirty_gfn*>(mapping_.data()), entries) {}
  Mapping mapping_;
  DirtyRingView view_;
};

// Called on a vCPU thread that exited with KVM_EXIT_DIRTY_RING_FULL: harvest
// and reset, after which the vCPU can re-enter. An error stops the VM.
class DirtyRingFullHandler {
 public:
  virtual Status OnDirtyRingFull() = 0;

 protected:
  ~DirtyRingFullHandler() = default;
};

}  // namespace ferry
