#include "image/args.h"

namespace ferry::image {

Result<Args> Args::Parse(int argc, char** argv, const ArgSpec& spec) {
  Args args;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      args.operands_.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::optional<std::string> inline_value;
    if (arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inline_value = arg.substr(arg.find('=') + 1);
      arg = arg.substr(0, arg.find('='));
    }
    if (spec.flags.count(arg) && !inline_value) {
      args.flags_.insert(arg);
      continue;
    }
    if (!spec.with_value.count(arg)) {
      return Error(ErrorCode::kInvalidArgument, "unknown option '" + arg + "'");
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Error(ErrorCode::kInvalidArgument, "option '" + arg + "' needs a value");
    }
    auto [it, fresh] = args.values_.emplace(arg, value);
    if (!fresh) {
      if (!spec.repeatable.count(arg)) {
        return Error(ErrorCode::kInvalidArgument, "option '" + arg + "' given twice");
      }
      it->second += "," + value;
    }
  }
  return args;
}

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

}  // namespace ferry::image
