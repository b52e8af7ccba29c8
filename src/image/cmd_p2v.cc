// `ferry p2v --source DEVICE|FILE --out IMAGE [-O qcow2|raw]`: images a disk
// with sparse detection (zero blocks are not written), applies the guest
// fix-ups (p2v_fixup.cc), and renames the image into place at the end. A source mounted
// read-write is named plainly: its filesystems change while they are read.
#include <unistd.h>

#include <cstdio>

#include "base/units.h"
#include "image/args.h"
#include "image/command_util.h"
#include "image/convert.h"
#include "image/convert_checkpoint.h"
#include "image/mount_check.h"
#include "image/p2v_command.h"
#include "image/p2v_fixup.h"
#include "image/raw.h"

namespace ferry {
namespace {

using namespace image;

constexpr const char* kUsage =
    "usage: ferry p2v --source DEVICE|FILE --out IMAGE [-O qcow2|raw] [-p] [--force]\n"
    "                 [--no-fixup] [--fstab-uuid] [--checkpoint-interval SECONDS]\n"
    "  An interrupted p2v resumes when run again: the copy from its last checkpoint,\n"
    "  an interrupted fix-up is undone and done again.\n"
    "  For a consistent image of a disk in use, give an LVM or device-mapper snapshot\n"
    "  of it as --source.\n";

void WarnIfMounted(const std::string& source) {
  Result<std::vector<MountUse>> uses = MountsOf(source);
  if (!uses.ok()) return;
  for (const MountUse& u : *uses) {
    if (!u.read_write) continue;
    std::fprintf(stderr,
                 "ferry p2v: warning: %s is mounted read-write at %s: the image may be "
                 "inconsistent; image a snapshot of it (LVM or device-mapper) instead\n",
                 source.c_str(), u.mount_point.c_str());
  }
}

Result<int> P2v(int argc, char** argv) {
  ArgSpec spec{{"--source", "--out", "-O", "--checkpoint-interval"},
               {"-p", "--force", "--no-fixup", "--fstab-uuid"},
               {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  if (!args.operands().empty() || !args.Get("--source") || !args.Get("--out")) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected --source and --out\n" + std::string(kUsage));
  }
  Format format = Format::kQcow2;
  if (auto f = args.Get("-O")) {
    ASSIGN_OR_RETURN(format, ParseFormat(*f));
  }
  const std::string source = *args.Get("--source");
  const std::string out = *args.Get("--out");
  ASSIGN_OR_RETURN(auto src, OpenRaw(source));
  WarnIfMounted(source);
  const bool fixup = !args.Has("--no-fixup");
  if (!fixup) {
    // Without fix-ups p2v is a convert: resumable like one.
    CopyOptions copy;
    if (args.Has("-p")) copy.progress = PrintCopyProgress;
    ASSIGN_OR_RETURN(double interval, CheckpointInterval(args));
    ResumableCopy job{source,
                      out,
                      format,
                      CreateOptions{},
                      "p2v " + std::string(FormatName(format)),
                      args.Has("--force"),
                      interval};
    job.create.final_name = out.substr(out.rfind('/') + 1);
    ASSIGN_OR_RETURN(CopyStats stats, RunResumableCopy(*src, job, copy));
    if (stats.resumed) std::printf("resumed at %s\n", FormatSize(stats.resumed_at).c_str());
  } else {
    RETURN_IF_ERROR(RunFixupP2v(*src, args, format));
  }
  std::printf("imaged %s into %s (%s)\n", source.c_str(), out.c_str(), FormatName(format));
  return 0;
}

}  // namespace

int RunP2vCommand(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  Result<int> r = P2v(argc, argv);
  if (r.ok()) return *r;
  std::fprintf(stderr, "ferry p2v: %s\n", r.error().message().c_str());
  return 1;
}

}  // namespace ferry
