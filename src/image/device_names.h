// Rewrites disk names (/dev/xvdX, /dev/hdX, /dev/sdX, /dev/vdX with an
// optional partition number) to the names the guest sees on its new
// platform, keeping the letter: virtio (/dev/vdX) when a VM moves to KVM
// (import), SCSI (/dev/sdX) when it moves to VMware, /dev/xvdX to Xen (export). fstab's device
// field may become "UUID=..." where the caller knows the filesystem's UUID.
// Used on /etc/fstab and boot loader files.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace ferry::image {

// disk index (0 for "a"), partition number (0: whole disk) -> "UUID=..." or
// nullopt to use the /dev/vdX name.
using UuidFor = std::function<std::optional<std::string>(int disk, int partition)>;

// The disk bus the guest will see, which decides its device names.
enum class DiskNaming {
  kVirtio,  // /dev/vdX: virtio-blk (ferry, KVM)
  kScsi,    // /dev/sdX: SCSI (VMware's LSI Logic controller)
  kXen,     // /dev/xvdX: Xen's PV block devices (xen-blkfront)
  kHyperV,  // /dev/sdX: Hyper-V's synthetic SCSI and IDE (hv_storvsc)
};

struct Rewrite {
  std::string text;
  int changes = 0;
};

// Every device name in `text`. With `uuid_for`, only the first field of
// fstab lines is replaced by UUID= (other occurrences, e.g. root= on a
// kernel command line, get /dev/vdX). Names already in `naming` stay.
Rewrite RewriteDeviceNames(const std::string& text, const UuidFor& uuid_for = nullptr,
                           DiskNaming naming = DiskNaming::kVirtio);

}  // namespace ferry::image
