// `ferry image resize`: a new virtual size, absolute or +/- relative.
#include <cstdio>

#include "base/units.h"
#include "image/command_util.h"
#include "image/commands.h"
#include "image/file.h"
#include "image/qcow2_resize.h"

namespace ferry::image {

Result<int> CmdResize(int argc, char** argv) {
  ArgSpec spec{{"-f"}, {"--shrink", "-q"}, {}};
  // "-1G" looks like an option: take the last argument as the size first.
  if (argc < 3)
    return Error(ErrorCode::kInvalidArgument,
                 "usage: ferry image resize [-f FMT] [--shrink] FILE [+|-]SIZE");
  std::string size_text = argv[argc - 1];
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc - 1, argv, spec));
  RETURN_IF_ERROR(
      ExpectOperands(args, 1, 1, "ferry image resize [-f FMT] [--shrink] FILE [+|-]SIZE"));
  const std::string& path = args.operands()[0];
  ASSIGN_OR_RETURN(auto reader, OpenFromArgs(args, "-f", path));
  ASSIGN_OR_RETURN(ImageDetails details, reader->Details());
  reader.reset();
  uint64_t old_size = details.virtual_size;
  uint64_t new_size;
  if (size_text[0] == '+' || size_text[0] == '-') {
    ASSIGN_OR_RETURN(uint64_t delta, ParseSize(size_text.substr(1)));
    if (size_text[0] == '-' && delta > old_size)
      return Error(ErrorCode::kInvalidArgument, "size would be negative");
    new_size = size_text[0] == '+' ? old_size + delta : old_size - delta;
  } else {
    ASSIGN_OR_RETURN(new_size, ParseSize(size_text));
  }
  bool shrink = args.Has("--shrink");
  if (new_size < old_size && !shrink) {
    return Error(ErrorCode::kInvalidArgument,
                 "shrinking would drop data; use --shrink if you mean it");
  }
  switch (details.format) {
    case Format::kRaw: {
      ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, true));
      if (file.is_block_device())
        return Error(ErrorCode::kInvalidArgument, "cannot resize a block device");
      RETURN_IF_ERROR(file.Truncate(new_size));
      RETURN_IF_ERROR(file.Sync());
      break;
    }
    case Format::kQcow2:
      RETURN_IF_ERROR(qcow2::Resize(path, new_size, shrink));
      break;
    default:
      return Error(
          ErrorCode::kUnimplemented,
          std::string("resize of ") + FormatName(details.format) + " images is not implemented");
  }
  if (!args.Has("-q")) std::printf("Image resized.\n");
  return 0;
}

}  // namespace ferry::image
