// What the migration engine needs from a running VM. The VM layer implements
// it; tests can implement it on plain memory.
#pragma once

#include <linux/kvm.h>

#include <memory>
#include <vector>

#include "base/result.h"
#include "machine/guest_memory.h"
#include "migration/dirty_tracker.h"
#include "migration/migratable_disk.h"
#include "state/machine_state.h"

namespace ferry::migration {

class MigratableVm {
 public:
  virtual ~MigratableVm() = default;
  virtual Status Pause() = 0;
  virtual Status Resume() = 0;
  virtual Result<state::MachineState> CaptureState() const = 0;
  virtual state::MachineConfig machine_config() const = 0;
  virtual const GuestMemory& memory() const = 0;
  // Starts tracking written pages; tracking ends when the tracker is destroyed.
  virtual Result<std::unique_ptr<DirtyTracker>> StartDirtyTracking() = 0;
  // Takes `percent` of the vCPUs' time away (0 ends throttling), so a guest
  // that dirties memory faster than the link carries it can converge.
  virtual void SetThrottle(int percent) = 0;
  // Shared storage: called once the destination has everything and just
  // before `go`; the VM lets go of its disk images (flush, unlock) so that the
  // destination can take them. A later Resume() takes them back.
  virtual Status ReleaseDisks() { return OkStatus(); }
  // The VM's disks, in device order (none by default).
  virtual std::vector<MigratableDisk*> disks() { return {}; }
};

}  // namespace ferry::migration
