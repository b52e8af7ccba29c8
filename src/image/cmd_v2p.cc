// `ferry v2p IMAGE --target DEVICE|FILE [--verify]`: writes an image's
// guest-visible bytes onto a disk. Zero ranges are skipped only when the
// target is known to read as zeros (a new file, or --target-is-zero);
// otherwise they are written (or discarded as zeros where the target
// supports it). --verify reads the whole target range back and compares.
// Resumable: see v2p_checkpoint.h for where the checkpoint lives.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "base/units.h"
#include "image/args.h"
#include "image/command_util.h"
#include "image/convert.h"
#include "image/file.h"
#include "image/mount_check.h"
#include "image/p2v_command.h"
#include "image/raw.h"
#include "image/v2p_checkpoint.h"

namespace ferry {
namespace {

using namespace image;

constexpr const char* kUsage =
    "usage: ferry v2p IMAGE --target DEVICE|FILE [-f FMT] [--verify] [--target-is-zero] [-p]\n"
    "                 [--force] [--checkpoint-interval SECONDS]\n"
    "  Killed halfway, the same command resumes from its last checkpoint: beside a\n"
    "  file target, under /var/lib/ferry/v2p/ for a device ($FERRY_STATE_DIR/v2p/).\n";

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

// Refuses targets that must not be written: a mounted device, an existing
// regular file without --force (unless it holds an interrupted v2p of ours).
Status CheckTarget(const std::string& target, bool exists, bool force, bool resuming) {
  struct stat st;
  if (exists && ::stat(target.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) {
    ASSIGN_OR_RETURN(std::vector<MountUse> uses, MountsOf(target));
    if (!uses.empty()) {
      return Error(ErrorCode::kFailedPrecondition,
                   target + " is mounted at " + uses[0].mount_point + "; unmount it first");
    }
  } else if (exists && !force && !resuming) {
    return Error(ErrorCode::kFailedPrecondition,
                 target + " exists and is not a block device (use --force to overwrite it)");
  }
  return OkStatus();
}

// Writes the image onto the target in place, resuming an interrupted run
// from its checkpoint and writing checkpoints as it goes. The checkpoint is
// removed once every byte is on the target.
Result<CopyStats> WriteResumably(ImageReader& src, const Args& args, const std::string& target) {
  struct stat st;
  const bool exists = ::stat(target.c_str(), &st) == 0;
  V2pResumeRequest request{args.operands()[0], target, exists, args.Has("--target-is-zero"),
                           args.Has("--force")};
  ASSIGN_OR_RETURN(V2pResume resume, FindV2pCheckpoint(src, request));
  RETURN_IF_ERROR(CheckTarget(target, exists, args.Has("--force"), resume.resuming()));
  bool zeroed = resume.zeroed;
  if (!exists) {
    // A new file reads as zeros: holes stay holes.
    ASSIGN_OR_RETURN(ImageFile created, ImageFile::Create(target));
    zeroed = true;
  }
  ASSIGN_OR_RETURN(auto dst, OpenRawTarget(target, src.virtual_size(), zeroed));
  ConvertCheckpoints& checkpoints = resume.checkpoints;
  if (!resume.resuming()) {
    ASSIGN_OR_RETURN(std::string identity, V2pIdentity(args.operands()[0], src, target, zeroed));
    checkpoints = ConvertCheckpoints::At(checkpoints.path(), identity, std::nullopt);
  }
  RETURN_IF_ERROR(checkpoints.Lock(target));
  CopyOptions copy;
  copy.target_is_zero = zeroed;
  if (args.Has("-p")) copy.progress = PrintCopyProgress;
  ASSIGN_OR_RETURN(double interval, CheckpointInterval(args));
  RETURN_IF_ERROR(checkpoints.Install(*dst, copy, interval));
  // A first checkpoint before any byte is written, so that a run killed
  // before its first timed one still leaves a file target recognisable as
  // ours (the rerun needs no --force) and resumes from the start.
  copy.resume.begin = [&copy, begin = copy.resume.begin](const PlanInfo& plan) -> Result<uint64_t> {
    ASSIGN_OR_RETURN(uint64_t first, begin(plan));
    if (first == 0) RETURN_IF_ERROR(copy.resume.checkpoint(0));
    return first;
  };
  ASSIGN_OR_RETURN(CopyStats stats, CopyImage(src, *dst, copy));
  stats.resumed = resume.resuming();
  if (::unlink(checkpoints.path().c_str()) != 0 && errno != ENOENT) {
    return ErrnoError("remove " + checkpoints.path());
  }
  if (stats.resumed) {
    std::fprintf(stderr, "ferry v2p: resumed %s at %s of %s\n", target.c_str(),
                 FormatSize(stats.resumed_at).c_str(), FormatSize(stats.virtual_size).c_str());
  }
  std::printf("wrote %s onto %s: %llu bytes of data, %llu bytes of zeros %s\n",
              args.operands()[0].c_str(), target.c_str(), (unsigned long long)stats.bytes_written,
              (unsigned long long)stats.zero_bytes, zeroed ? "skipped" : "written");
  return stats;
}

Result<int> V2p(int argc, char** argv) {
  ArgSpec spec{{"--target", "-f", "--checkpoint-interval"},
               {"--verify", "--target-is-zero", "-p", "--force"},
               {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  if (args.operands().size() != 1 || !args.Get("--target")) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected IMAGE and --target\n" + std::string(kUsage));
  }
  ASSIGN_OR_RETURN(auto src, OpenFromArgs(args, "-f", args.operands()[0]));
  const std::string target = *args.Get("--target");
  RETURN_IF_ERROR(WriteResumably(*src, args, target));
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
