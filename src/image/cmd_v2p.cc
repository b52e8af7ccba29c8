// `ferry v2p IMAGE --target DEVICE|FILE [--verify]`: writes an image's
// guest-visible bytes onto a disk. Zero ranges are skipped only when the
// target is known to read as zeros (a new file, or --target-is-zero);
// otherwise they are written (or discarded as zeros where the target
// supports it). --verify reads the whole target range back and compares.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "image/args.h"
#include "image/command_util.h"
#include "image/convert.h"
#include "image/file.h"
#include "image/mount_check.h"
#include "image/p2v_command.h"
#include "image/raw.h"

namespace ferry {
namespace {

using namespace image;

constexpr const char* kUsage =
    "usage: ferry v2p IMAGE --target DEVICE|FILE [-f FMT] [--verify] [--target-is-zero] [-p]\n"
    "                 [--force]\n";

// Compares the image with the target's first virtual_size bytes.
Status Verify(ImageReader& src, const std::string& target) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(target, false));
  const uint64_t size = src.virtual_size();
  std::vector<uint8_t> a(4 << 20), b(4 << 20);
  for (uint64_t pos = 0; pos < size;) {
    uint64_t n = std::min<uint64_t>(a.size(), size - pos);
    ASSIGN_OR_RETURN(Extent e, src.Map(pos, n));
    n = e.length;
    if (e.zero) {
      std::memset(a.data(), 0, n);
    } else {
      RETURN_IF_ERROR(src.Read(pos, std::span<uint8_t>(a.data(), n)));
    }
    RETURN_IF_ERROR(file.ReadAt(pos, std::span<uint8_t>(b.data(), n), "target"));
    if (std::memcmp(a.data(), b.data(), n) != 0) {
      uint64_t i = 0;
      while (a[i] == b[i]) ++i;
      return Error(ErrorCode::kCorrupt, "verify: " + target + " differs from the image at offset " +
                                            std::to_string(pos + i));
    }
    pos += n;
  }
  return OkStatus();
}

Result<int> V2p(int argc, char** argv) {
  ArgSpec spec{{"--target", "-f"}, {"--verify", "--target-is-zero", "-p", "--force"}, {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  if (args.operands().size() != 1 || !args.Get("--target")) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected IMAGE and --target\n" + std::string(kUsage));
  }
  ASSIGN_OR_RETURN(auto src, OpenFromArgs(args, "-f", args.operands()[0]));
  const std::string target = *args.Get("--target");
  struct stat st;
  const bool exists = ::stat(target.c_str(), &st) == 0;
  if (exists && S_ISBLK(st.st_mode)) {
    ASSIGN_OR_RETURN(std::vector<MountUse> uses, MountsOf(target));
    if (!uses.empty()) {
      return Error(ErrorCode::kFailedPrecondition,
                   target + " is mounted at " + uses[0].mount_point + "; unmount it first");
    }
  } else if (exists && !args.Has("--force")) {
    return Error(ErrorCode::kFailedPrecondition,
                 target + " exists and is not a block device (use --force to overwrite it)");
  }
  bool zeroed = args.Has("--target-is-zero");
  if (!exists) {
    // A new file reads as zeros: holes stay holes.
    ASSIGN_OR_RETURN(ImageFile created, ImageFile::Create(target));
    zeroed = true;
  }
  ASSIGN_OR_RETURN(auto dst, OpenRawTarget(target, src->virtual_size(), zeroed));
  CopyOptions copy;
  copy.target_is_zero = zeroed;
  if (args.Has("-p")) copy.progress = PrintCopyProgress;
  ASSIGN_OR_RETURN(CopyStats stats, CopyImage(*src, *dst, copy));
  dst.reset();
  std::printf("wrote %s onto %s: %llu bytes of data, %llu bytes of zeros %s\n",
              args.operands()[0].c_str(), target.c_str(), (unsigned long long)stats.bytes_written,
              (unsigned long long)stats.zero_bytes, zeroed ? "skipped" : "written");
  if (args.Has("--verify")) {
    RETURN_IF_ERROR(Verify(*src, target));
    std::printf("verified: %s holds the image's %llu bytes\n", target.c_str(),
                (unsigned long long)src->virtual_size());
  }
  return 0;
}

}  // namespace

int RunV2pCommand(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  Result<int> r = V2p(argc, argv);
  if (r.ok()) return *r;
  std::fprintf(stderr, "ferry v2p: %s\n", r.error().message().c_str());
  return 1;
}

}  // namespace ferry
