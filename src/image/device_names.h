// Rewrites Xen, IDE and SCSI disk names (/dev/xvdX, /dev/hdX, /dev/sdX with
// an optional partition number) to the virtio names a KVM guest sees
// (/dev/vdX), keeping the letter, or to "UUID=..." where the caller knows
// the filesystem's UUID. Used on /etc/fstab and boot loader files.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace ferry::image {

// disk index (0 for "a"), partition number (0: whole disk) -> "UUID=..." or
// nullopt to use the /dev/vdX name.
using UuidFor = std::function<std::optional<std::string>(int disk, int partition)>;

struct Rewrite {
  std::string text;
  int changes = 0;
};

// Every device name in `text`. With `uuid_for`, only the first field of
// fstab lines is replaced by UUID= (other occurrences, e.g. root= on a
// kernel command line, get /dev/vdX).
Rewrite RewriteDeviceNames(const std::string& text, const UuidFor& uuid_for = nullptr);

}  // namespace ferry::image
