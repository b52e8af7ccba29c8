// `ferry image measure`: how large a file converting to a format produces.
#include <cstdio>

#include "base/units.h"
#include "image/command_util.h"
#include "image/commands.h"
#include "image/qcow2_writer.h"

namespace ferry::image {
namespace {

struct Allocation {
  uint64_t clusters = 0;
  uint64_t l2_tables = 0;
};

// Clusters of `cluster_size` that hold any non-zero extent, and the L2
// tables they fall in.
Result<Allocation> CountAllocation(ImageReader& src, uint64_t cluster_size) {
  const uint64_t l2_span = cluster_size * (cluster_size / 8);
  const uint64_t size = src.virtual_size();
  Allocation a;
  uint64_t next_cluster = 0, next_table = 0;  // first ones not yet counted
  for (uint64_t pos = 0; pos < size;) {
    ASSIGN_OR_RETURN(Extent e, src.Map(pos, size - pos));
    pos = e.start + e.length;
    if (e.zero) continue;
    uint64_t first = std::max(e.start / cluster_size, next_cluster);
    uint64_t last = (pos - 1) / cluster_size;
    if (first <= last) {
      a.clusters += last - first + 1;
      next_cluster = last + 1;
    }
    uint64_t first_table = std::max(e.start / l2_span, next_table);
    uint64_t last_table = (pos - 1) / l2_span;
    if (first_table <= last_table) {
      a.l2_tables += last_table - first_table + 1;
      next_table = last_table + 1;
    }
  }
  return a;
}

}  // namespace

Result<int> CmdMeasure(int argc, char** argv) {
  ArgSpec spec{{"-f", "-O", "-o", "--size", "--output"}, {}, {"-o"}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  const char* usage = "ferry image measure [-O FMT] [-o OPTS] (--size SIZE | [-f FMT] FILE)";
  bool by_size = args.Has("--size");
  RETURN_IF_ERROR(ExpectOperands(args, by_size ? 0 : 1, by_size ? 0 : 1, usage));
  ASSIGN_OR_RETURN(bool json, JsonOutput(args));
  Format format = Format::kRaw;
  if (auto f = args.Get("-O")) {
    ASSIGN_OR_RETURN(format, ParseFormat(*f));
  }
  CreateOptions options;
  if (auto o = args.Get("-o")) RETURN_IF_ERROR(ParseCreateOptions(*o, options));

  uint64_t size = 0;
  std::unique_ptr<ImageReader> src;
  if (by_size) {
    ASSIGN_OR_RETURN(size, ParseSize(*args.Get("--size")));
  } else {
    ASSIGN_OR_RETURN(src, OpenFromArgs(args, "-f", args.operands()[0]));
    size = src->virtual_size();
  }
  uint64_t required = 0, full = 0;
  switch (format) {
    case Format::kRaw:
      required = full = size;
      break;
    case Format::kQcow2: {
      ASSIGN_OR_RETURN(uint64_t cs, Qcow2ClusterSize(options));
      Allocation all{(size + cs - 1) / cs, (size + cs * (cs / 8) - 1) / (cs * (cs / 8))};
      Allocation used;
      if (src) {
        ASSIGN_OR_RETURN(used, CountAllocation(*src, cs));
      }
      ASSIGN_OR_RETURN(required, Qcow2FileSize(size, options, used.clusters, used.l2_tables));
      ASSIGN_OR_RETURN(full, Qcow2FileSize(size, options, all.clusters, all.l2_tables));
      break;
    }
    default:
      return Error(ErrorCode::kUnimplemented,
                   std::string("measure for ") + FormatName(format) + " is not implemented");
  }
  if (json) {
    std::printf("{\n    \"required\": %llu,\n    \"fully-allocated\": %llu\n}\n",
                (unsigned long long)required, (unsigned long long)full);
  } else {
    std::printf("required size: %llu\nfully allocated size: %llu\n", (unsigned long long)required,
                (unsigned long long)full);
  }
  return 0;
}

}  // namespace ferry::image
