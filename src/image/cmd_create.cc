// `ferry image create`: a new empty image, optionally over a backing file.
#include <cstdio>

#include "base/units.h"
#include "image/command_util.h"
#include "image/commands.h"
#include "image/file.h"
#include "image/temp_output.h"

namespace ferry::image {
namespace {

// The backing file must open (with its own chain); its size is the default.
Result<uint64_t> BackingSize(const std::string& image, CreateOptions& o) {
  OpenOptions open;
  open.format = o.backing_format;
  std::string path = ResolveRelative(image, o.backing_file);
  Result<std::unique_ptr<ImageReader>> backing = OpenImage(path, open);
  if (!backing.ok()) return std::move(backing).error().WithContext("backing file " + path);
  if (!o.backing_format) {
    ASSIGN_OR_RETURN(o.backing_format, ProbeFormat(path));
  }
  return (*backing)->virtual_size();
}

}  // namespace

Result<int> CmdCreate(int argc, char** argv) {
  ArgSpec spec{{"-f", "-o", "-b", "-F"}, {"--force", "-q"}, {"-o"}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  RETURN_IF_ERROR(ExpectOperands(
      args, 1, 2, "ferry image create [-f FMT] [-o OPTS] [-b BACKING [-F FMT]] FILE [SIZE]"));
  Format format = Format::kRaw;
  if (auto f = args.Get("-f")) {
    ASSIGN_OR_RETURN(format, ParseFormat(*f));
  }
  CreateOptions options;
  if (auto o = args.Get("-o")) RETURN_IF_ERROR(ParseCreateOptions(*o, options));
  if (auto b = args.Get("-b")) options.backing_file = *b;
  if (auto f = args.Get("-F")) {
    ASSIGN_OR_RETURN(options.backing_format, ParseFormat(*f));
  }
  const std::string& path = args.operands()[0];
  std::optional<uint64_t> size;
  if (args.operands().size() == 2) {
    ASSIGN_OR_RETURN(size, ParseSize(args.operands()[1]));
  }
  if (!options.backing_file.empty()) {
    ASSIGN_OR_RETURN(uint64_t backing_size, BackingSize(path, options));
    if (!size) size = backing_size;
  }
  if (!size) {
    return Error(ErrorCode::kInvalidArgument, "the image size is required (no backing file)");
  }
  options.final_name = path.substr(path.rfind('/') + 1);
  ASSIGN_OR_RETURN(TempOutput out, TempOutput::Prepare(path, args.Has("--force")));
  ASSIGN_OR_RETURN(auto writer, CreateImage(format, out.temp_path(), *size, options));
  RETURN_IF_ERROR(writer->Finish());
  RETURN_IF_ERROR(out.Commit());
  if (!args.Has("-q")) {
    std::printf("Formatting '%s', fmt=%s size=%llu\n", path.c_str(), FormatName(format),
                (unsigned long long)*size);
  }
  return 0;
}

}  // namespace ferry::image
