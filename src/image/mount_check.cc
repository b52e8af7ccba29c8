#include "image/mount_check.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace ferry::image {
namespace {

// "major:minor" of the whole disk a partition belongs to, from sysfs.
std::string ParentDisk(unsigned major, unsigned minor) {
  std::string base = "/sys/dev/block/" + std::to_string(major) + ":" + std::to_string(minor);
  std::ifstream partition(base + "/partition");
  if (!partition) return "";
  std::ifstream parent(base + "/../dev");
  std::string dev;
  std::getline(parent, dev);
  return dev;
}

}  // namespace

Result<std::vector<MountUse>> MountsOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat " + path);
  std::vector<MountUse> uses;
  if (!S_ISBLK(st.st_mode)) return uses;
  const std::string want =
      std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  std::ifstream info("/proc/self/mountinfo");
  std::string line;
  while (std::getline(info, line)) {
    // id parent major:minor root mount-point options ... - fstype source super-options
    std::istringstream in(line);
    std::string id, parent, dev, root, point, options;
    if (!(in >> id >> parent >> dev >> root >> point >> options)) continue;
    unsigned maj = 0, min = 0;
    if (std::sscanf(dev.c_str(), "%u:%u", &maj, &min) != 2) continue;
    if (dev != want && ParentDisk(maj, min) != want) continue;
    bool rw = options.rfind("rw", 0) == 0;
    uses.push_back({point, rw});
  }
  return uses;
}

}  // namespace ferry::image
