// Offline (cold) migration, sending side. Timeline:
//
//   connect -> machine config ->        <- accept (resources reserved) | refuse
//   [disk plan ->                       <- disk resume]
//   pause -> [disk chunks] -> pages -> devices -> end -> <- ready (everything loaded)
//   go (from here the source never runs the VM again) -> <- running
//
// Any failure before `go` resumes the VM here. After `go` without `running`,
// the VM stays paused here and the caller must say so: it may already run there.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "migration/migratable.h"
#include "migration/report.h"

namespace ferry::migration {

// `started_ns` is when the request arrived (MonotonicNs). On error, `committed`
// tells the caller whether the VM was resumed (false) or left paused (true).
// `bandwidth` caps the stream in bytes per second (0: no cap); with
// `copy_storage` the disks' contents travel too (else they are shared storage).
Result<MigrationReport> SendOffline(MigratableVm& vm, int fd, const std::string& destination,
                                    int64_t started_ns, uint64_t bandwidth, bool copy_storage,
                                    bool* committed);

}  // namespace ferry::migration
