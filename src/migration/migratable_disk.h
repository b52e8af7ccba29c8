// What the migration engine needs from one of the VM's disks for block
// migration: its size and image, and the copy session that records the
// guest's writes. (Shared storage needs only MigratableVm::ReleaseDisks.)
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.h"
#include "devices/block/write_log.h"

namespace ferry::migration {

class MigratableDisk {
 public:
  virtual ~MigratableDisk() = default;
  virtual std::string path() const = 0;
  virtual uint64_t size_bytes() const = 0;
  virtual bool readonly() const = 0;
  // The open image, for reading (pread) while the guest runs; owned by the disk.
  virtual int image_fd() const = 0;

  // The session a previous, failed copy left behind (null if none). The
  // device keeps recording into it, so a retry knows what changed since.
  virtual std::shared_ptr<DiskCopySession> copy_session() const = 0;
  // Makes the device record every completed write into `session` from now on.
  virtual void set_copy_session(std::shared_ptr<DiskCopySession> session) = 0;
};

}  // namespace ferry::migration
