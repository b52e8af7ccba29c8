// Guest fix-ups for a Linux guest moving to another disk bus, done on its
// raw disk images through libext2fs (no mounting, no privileges): partition
// tables read, /etc/fstab and the boot loader's files rewritten to the new
// bus's names (import: /dev/xvdX, /dev/hdX, /dev/sdX to /dev/vdX, or UUID=
// in fstab; export to VMware: /dev/vdX to /dev/sdX), and the kernels checked
// for the new bus's driver (virtio_blk, or mptspi for VMware's LSI Logic
// SCSI: built in, module, in the initramfs). Filesystems whose journal needs
// recovery are left alone and reported.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "image/device_names.h"

namespace ferry::image {

class UndoLog;

struct FixupOptions {
  bool fstab_uuid = false;                  // fstab: UUID= where the filesystem's UUID is known
  DiskNaming naming = DiskNaming::kVirtio;  // the bus the guest moves to
  // Every write to the disk it names is saved in this log first, so that an
  // interrupted fix-up can be undone (p2v); nullptr: not logged.
  UndoLog* undo = nullptr;
};

struct FixupReport {
  std::vector<std::string> changes;     // files rewritten
  std::vector<std::string> kernels;     // one line per kernel found
  std::vector<std::string> unbootable;  // kernels that will not find their disk on the new bus
  std::vector<std::string> warnings;    // what could not be done
  // The device /etc/fstab mounts on "/" (after the rewrite): what the
  // guest's kernel wants as root= when it is booted directly.
  std::string root_device;
};

// `raw_disks` in the guest's order: disk 0 was "a" (sda, xvda, hda).
Result<FixupReport> FixGuest(const std::vector<std::string>& raw_disks,
                             const FixupOptions& options);

}  // namespace ferry::image
