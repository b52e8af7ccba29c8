// `ferry image convert`: any readable format to any writable one, through
// the parallel copy engine, into a temporary name renamed at the end.
#include <unistd.h>

#include <cstdio>

#include "base/units.h"
#include "image/command_util.h"
#include "image/commands.h"
#include "image/convert.h"
#include "image/raw.h"
#include "image/temp_output.h"

namespace ferry::image {
namespace {

void PrintProgress(const CopyProgress& p) {
  double pct = p.total ? 100.0 * double(p.done) / double(p.total) : 100.0;
  double rate = p.seconds > 0 ? double(p.done) / p.seconds : 0;
  std::string eta = "--:--";
  if (rate > 0 && p.done < p.total) {
    uint64_t s = uint64_t(double(p.total - p.done) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llu:%02llu", (unsigned long long)(s / 60),
                  (unsigned long long)(s % 60));
    eta = buf;
  } else if (p.done >= p.total) {
    eta = "0:00";
  }
  std::fprintf(stderr, "\r    (%6.2f/100%%) %s/s ETA %s   ", pct,
               FormatSize(uint64_t(rate)).c_str(), eta.c_str());
  if (p.done >= p.total) std::fprintf(stderr, "\n");
}

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
  if (args.Has("-p")) o.progress = PrintProgress;
  return o;
}

}  // namespace

Result<int> CmdConvert(int argc, char** argv) {
  ArgSpec spec{{"-f", "-O", "-o", "-S", "-m", "-t"},
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
  ASSIGN_OR_RETURN(TempOutput out, TempOutput::Prepare(dst_path, args.Has("--force")));
  ASSIGN_OR_RETURN(auto dst, CreateImage(out_format, out.temp_path(), src->virtual_size(), create));
  RETURN_IF_ERROR(CopyImage(*src, *dst, copy));
  dst.reset();
  RETURN_IF_ERROR(out.Commit());
  return 0;
}

}  // namespace ferry::image
