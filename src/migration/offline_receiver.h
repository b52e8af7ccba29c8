// Offline migration, receiving side (the timeline is in offline_sender.h).
// Nothing runs until the sender says `go`; a sender that vanishes before that
// leaves nothing behind here.
#pragma once

#include <functional>
#include <vector>

#include "base/result.h"
#include "machine/guest_memory.h"
#include "migration/disk_receiver.h"
#include "state/machine_state.h"
#include "state/stream.h"

namespace ferry::migration {

// Decides whether this host takes the machine (CPU features, size) and, if
// so, prepares it (creates the VM and its memory) while the source still
// runs; returns the memory the pages go into.
using AdmitFn = std::function<Result<GuestMemory*>(const state::MachineConfig&)>;

// Called once the disk plan is answered and the disk images are in place: a
// receiver that waited for them creates the VM now and returns the memory the
// pages go into from here on (the plan always comes before any page).
using DisksPlannedFn = std::function<Result<GuestMemory*>(const DiskReceiver&)>;

class OfflineReceiver {
 public:
  explicit OfflineReceiver(int fd);

  // Reads the configuration, admits or refuses it, then takes pages, disk
  // chunks (into `disks`) and device state up to the end of the stream.
  Result<state::MachineState> Receive(const AdmitFn& admit, DiskReceiver& disks,
                                      const DisksPlannedFn& planned = nullptr);
  // Tells the sender the VM could not be loaded here; it resumes at the source.
  void Refuse(const std::string& reason);
  // Everything is loaded: asks for the handover and waits for `go`.
  Status ReadyAndAwaitGo();
  // The same in two steps, so that work can overlap the wait for `go`.
  Status SendReady();
  Status AwaitGo();
  Status ConfirmRunning(int64_t resumed_at_ns);

 private:
  Status AnswerDiskPlan(const state::Section& section, DiskReceiver& disks,
                        const DisksPlannedFn& planned, GuestMemory** memory);

  int fd_;
  state::FdSink sink_;
  state::FdSource source_;
  state::SectionWriter writer_;
  state::SectionReader reader_;
};

}  // namespace ferry::migration
