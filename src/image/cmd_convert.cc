// `ferry image convert`: any readable format to any writable one, through
// the parallel copy engine, into a temporary name renamed at the end.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "base/units.h"
#include "image/command_util.h"
#include "image/commands.h"
#include "image/convert.h"
#include "image/convert_checkpoint.h"
#include "image/raw.h"
#include "image/temp_output.h"

namespace ferry::image {
namespace {

Result<CopyOptions> CopyOptionsFrom(const Args& args) {
  CopyOptions o;
  if (auto s = args.Get("-S")) {
    ASSIGN_OR_RETURN(o.sparse_size, ParseSize(*s));
  }
  if (auto m = args.Get("-m")) {
    ASSIGN_OR_RETURN(uint64_t n, ParseUnsigned(*m));
    if (n < 1 || n > 64) return Error(ErrorCode::kInvalidArgument, "-m must be from 1 to 64");
    o.workers = int(n);
  }
  o.target_is_zero = args.Has("--target-is-zero");
  if (args.Has("-p")) o.progress = PrintCopyProgress;
  return o;
}

// Everything that shapes the output bytes, for the checkpoint's identity.
std::string OutputOptions(const Args& args, Format out_format, const CopyOptions& copy) {
  return std::string(FormatName(out_format)) + " -o " + args.Get("-o").value_or("") +
         (args.Has("-c") ? " -c" : "") + " -S " + std::to_string(copy.sparse_size);
}

// Converts into a new image under a temporary name: resumes a matching
// interrupted run from its checkpoint, writes checkpoints as it goes, and
// renames the output into place at the end.
Result<int> ConvertToNewImage(const Args& args, ImageReader& src, Format out_format,
                              const CreateOptions& create, CopyOptions copy) {
  const std::string& src_path = args.operands()[0];
  const std::string& dst_path = args.operands()[1];
  const bool force = args.Has("--force");
  ASSIGN_OR_RETURN(double interval, CheckpointInterval(args));
  ResumableCopy job{src_path, dst_path, out_format, create, OutputOptions(args, out_format, copy),
                    force,    interval};
  ASSIGN_OR_RETURN(CopyStats stats, RunResumableCopy(src, job, copy));
  if (stats.resumed && !args.Has("-q")) {
    std::fprintf(stderr, "ferry image convert: resumed %s at %s of %s\n", dst_path.c_str(),
                 FormatSize(stats.resumed_at).c_str(), FormatSize(stats.virtual_size).c_str());
  }
  return 0;
}

}  // namespace

Result<int> CmdConvert(int argc, char** argv) {
  ArgSpec spec{{"-f", "-O", "-o", "-S", "-m", "-t", "--checkpoint-interval"},
               {"-c", "-p", "-n", "--target-is-zero", "--force", "-q", "-W"},
               {"-o"}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  RETURN_IF_ERROR(
      ExpectOperands(args, 2, 2, "ferry image convert [-f FMT] [-O FMT] [options] SRC DST"));
  ASSIGN_OR_RETURN(CopyOptions copy, CopyOptionsFrom(args));
  Format out_format = Format::kRaw;
  if (auto f = args.Get("-O")) {
    ASSIGN_OR_RETURN(out_format, ParseFormat(*f));
  }
  CreateOptions create;
  if (auto o = args.Get("-o")) RETURN_IF_ERROR(ParseCreateOptions(*o, create));
  create.compress = args.Has("-c");
  if (auto t = args.Get("-t")) {
    if (*t != "unsafe" && *t != "writeback") {
      return Error(ErrorCode::kInvalidArgument,
                   "-t must be writeback (flush at the end) or unsafe");
    }
    create.flush = *t != "unsafe";
  }
  if (!create.backing_file.empty()) {
    return Error(ErrorCode::kUnimplemented,
                 "convert to an image with a backing file is not implemented");
  }
  if (copy.target_is_zero && !args.Has("-n")) {
    return Error(ErrorCode::kInvalidArgument, "--target-is-zero needs -n (an existing target)");
  }
  const std::string& src_path = args.operands()[0];
  const std::string& dst_path = args.operands()[1];
  ASSIGN_OR_RETURN(auto src, OpenFromArgs(args, "-f", src_path));

  if (args.Has("-n")) {
    // Onto an existing target (a disk, a preallocated file): raw only.
    if (out_format != Format::kRaw) {
      return Error(ErrorCode::kUnimplemented,
                   "-n (existing target) is implemented for raw targets only");
    }
    ASSIGN_OR_RETURN(auto dst, OpenRawTarget(dst_path, src->virtual_size(), copy.target_is_zero));
    RETURN_IF_ERROR(CopyImage(*src, *dst, copy));
    return 0;
  }
  create.final_name = dst_path.substr(dst_path.rfind('/') + 1);
  return ConvertToNewImage(args, *src, out_format, create, copy);
}

}  // namespace ferry::image
