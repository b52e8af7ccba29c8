#include "image/v2p_checkpoint.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "image/checkpoint.h"
#include "image/file.h"

namespace ferry::image {
namespace {

std::string StateDir() {
  const char* dir = std::getenv("FERRY_STATE_DIR");
  return dir && *dir ? dir : "/var/lib/ferry";
}

Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoError("create " + path);
  return OkStatus();
}

// The first line of a sysfs attribute, or "" when it is absent.
std::string SysfsLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// What tells one disk from another at the same device number: a loop
// device's backing file, a disk's WWID or serial number.
std::string DeviceFacts(dev_t rdev) {
  const std::string base =
      "/sys/dev/block/" + std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
  std::string facts;
  for (const char* attr : {"loop/backing_file", "device/wwid", "device/serial", "wwid"}) {
    std::string value = SysfsLine(base + "/" + attr);
    if (!value.empty()) facts += std::string("target-") + attr + "=" + value + "\n";
  }
  return facts;
}

Result<std::string> TargetIdentity(const std::string& target) {
  char real[PATH_MAX];
  if (::realpath(target.c_str(), real) == nullptr) return ErrnoError("resolve " + target);
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(real, false));
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  struct stat st;
  if (::fstat(file.fd(), &st) != 0) return ErrnoError("stat " + target);
  std::string id = std::string("target=") + real + "\ntarget-size=" + std::to_string(size) + "\n";
  if (S_ISBLK(st.st_mode)) {
    return id + "target-device=" + std::to_string(major(st.st_rdev)) + ":" +
           std::to_string(minor(st.st_rdev)) + "\n" + DeviceFacts(st.st_rdev);
  }
  // Not the times: every write of ours moves them.
  return id + "target-inode=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + "\n";
}

// The last line of an identity says whether the first run skipped zeros.
constexpr const char* kZeroedLine = "zeroed=1\n";

bool RecordsZeroed(const std::string& identity) {
  const std::string z = kZeroedLine;
  return identity.size() >= z.size() &&
         identity.compare(identity.size() - z.size(), z.size(), z) == 0;
}

}  // namespace

Result<std::string> V2pCheckpointPath(const std::string& target) {
  struct stat st;
  if (::stat(target.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) {
    const std::string root = StateDir();
    RETURN_IF_ERROR(MakeDir(root));
    RETURN_IF_ERROR(MakeDir(root + "/v2p"));
    return root + "/v2p/dev-" + std::to_string(major(st.st_rdev)) + "-" +
           std::to_string(minor(st.st_rdev)) + ".ckpt";
  }
  size_t slash = target.rfind('/');
  std::string dir = slash == std::string::npos ? "" : target.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  return dir + "." + base + ".ferry-v2p.ckpt";
}

Result<std::string> V2pIdentity(const std::string& src_path, const ImageReader& src,
                                const std::string& target, bool zeroed) {
  ASSIGN_OR_RETURN(std::string source, ConvertIdentity(src_path, src, "v2p"));
  ASSIGN_OR_RETURN(std::string dest, TargetIdentity(target));
  return "ferry-v2p 1\n" + source + dest + (zeroed ? kZeroedLine : "zeroed=0\n");
}

Result<V2pResume> FindV2pCheckpoint(ImageReader& src, const V2pResumeRequest& r) {
  ASSIGN_OR_RETURN(std::string path, V2pCheckpointPath(r.target));
  auto start_over = [&]() -> Result<V2pResume> {
    ::unlink(path.c_str());
    return V2pResume{ConvertCheckpoints::At(path, "", std::nullopt), r.target_is_zero};
  };
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return start_over();
  if (!r.target_exists) return start_over();  // the file it was for is gone
  const std::string refuse =
      "a checkpoint " + path + " from an interrupted v2p onto " + r.target + " exists";
  Result<Checkpoint> loaded = LoadCheckpoint(path);
  if (!loaded.ok()) {
    if (r.force) return start_over();
    return Error(ErrorCode::kFailedPrecondition,
                 refuse + " but cannot be resumed (" + loaded.error().message() +
                     "); use --force to write the whole image again");
  }
  const bool zeroed = RecordsZeroed(loaded->identity);
  ASSIGN_OR_RETURN(std::string identity, V2pIdentity(r.src_path, src, r.target, zeroed));
  if (loaded->identity != identity) {
    if (r.force) return start_over();
    return Error(ErrorCode::kFailedPrecondition,
                 refuse +
                     " but was made from a different or changed image, or for a different or "
                     "changed target; use --force to write the whole image again");
  }
  return V2pResume{ConvertCheckpoints::At(path, identity, std::move(*loaded)), zeroed};
}

}  // namespace ferry::image
