#include "image/command_util.h"

#include "base/units.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenFromArgs(const Args& args, const std::string& flag,
                                                  const std::string& path) {
  OpenOptions options;
  if (auto f = args.Get(flag)) {
    ASSIGN_OR_RETURN(options.format, ParseFormat(*f));
  }
  return OpenImage(path, options);
}

Status ExpectOperands(const Args& args, size_t min, size_t max, const char* usage) {
  size_t n = args.operands().size();
  if (n < min || n > max) return Error(ErrorCode::kInvalidArgument, std::string("usage: ") + usage);
  return OkStatus();
}

Result<bool> JsonOutput(const Args& args) {
  auto out = args.Get("--output");
  if (!out || *out == "human") return false;
  if (*out == "json") return true;
  return Error(ErrorCode::kInvalidArgument, "--output must be human or json");
}

std::string SizeWithBytes(uint64_t bytes) {
  return FormatSize(bytes) + " (" + std::to_string(bytes) + " bytes)";
}

}  // namespace ferry::image
