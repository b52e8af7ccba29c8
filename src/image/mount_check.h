// Whether a block device (or a file behind a loop device) is mounted, from
// /proc/self/mountinfo: P2V of a device mounted read-write copies a
// filesystem that changes under it.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"

namespace ferry::image {

struct MountUse {
  std::string mount_point;
  bool read_write = false;
};

// The mounts of `path`'s device (st_rdev for a block device), or of any of
// its partitions (the same disk's minor numbers in /sys/.../holders are not
// followed: partitions are matched by their parent in /sys/class/block).
Result<std::vector<MountUse>> MountsOf(const std::string& path);

}  // namespace ferry::image
