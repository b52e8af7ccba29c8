// `ferry image map`: which guest ranges hold data, which read as zeros, and
// where the data lies, after qemu-img map (`--output=json` is the same shape).
#include <cstdio>
#include <vector>

#include "image/command_util.h"
#include "image/commands.h"

namespace ferry::image {
namespace {

bool Mergeable(const Extent& a, const Extent& b) {
  if (a.data != b.data || a.zero != b.zero || a.present != b.present || a.depth != b.depth)
    return false;
  if (a.host_offset.has_value() != b.host_offset.has_value()) return false;
  return !a.host_offset || *a.host_offset + a.length == *b.host_offset;
}

void PrintJson(const std::vector<Extent>& extents) {
  std::printf("[");
  for (size_t i = 0; i < extents.size(); ++i) {
    const Extent& e = extents[i];
    std::printf(
        "%s{ \"start\": %llu, \"length\": %llu, \"depth\": %d, \"present\": %s, \"zero\": %s, "
        "\"data\": %s",
        i ? ",\n" : "", (unsigned long long)e.start, (unsigned long long)e.length, e.depth,
        e.present ? "true" : "false", e.zero ? "true" : "false", e.data ? "true" : "false");
    if (e.host_offset) std::printf(", \"offset\": %llu", (unsigned long long)*e.host_offset);
    std::printf("}");
  }
  std::printf("]\n");
}

void PrintHuman(const std::vector<Extent>& extents) {
  std::printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "Depth");
  for (const Extent& e : extents) {
    if (!e.data) continue;
    char mapped[32] = "compressed";
    if (e.host_offset)
      std::snprintf(mapped, sizeof mapped, "%#llx", (unsigned long long)*e.host_offset);
    std::printf("%#-16llx%#-16llx%-16s%d\n", (unsigned long long)e.start,
                (unsigned long long)e.length, mapped, e.depth);
  }
}

}  // namespace

Result<int> CmdMap(int argc, char** argv) {
  ArgSpec spec{{"-f", "--output"}, {}, {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  RETURN_IF_ERROR(ExpectOperands(args, 1, 1, "ferry image map [-f FMT] [--output=json] FILE"));
  ASSIGN_OR_RETURN(bool json, JsonOutput(args));
  ASSIGN_OR_RETURN(auto reader, OpenFromArgs(args, "-f", args.operands()[0]));
  std::vector<Extent> extents;
  const uint64_t size = reader->virtual_size();
  for (uint64_t pos = 0; pos < size;) {
    ASSIGN_OR_RETURN(Extent e, reader->Map(pos, size - pos));
    if (e.length == 0) return Error(ErrorCode::kInternal, "image map returned an empty extent");
    pos = e.start + e.length;
    if (!extents.empty() && Mergeable(extents.back(), e)) {
      extents.back().length += e.length;
    } else {
      extents.push_back(e);
    }
  }
  if (json) {
    PrintJson(extents);
  } else {
    PrintHuman(extents);
  }
  return 0;
}

}  // namespace ferry::image
