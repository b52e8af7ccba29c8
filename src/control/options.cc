#include "control/options.h"

namespace ferry {

std::string ParsedOptions::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() || it->second.empty() ? fallback : it->second.back();
}

const std::vector<std::string>& ParsedOptions::All(const std::string& name) const {
  static const std::vector<std::string> kEmpty;
  auto it = values_.find(name);
  return it == values_.end() ? kEmpty : it->second;
}

Result<ParsedOptions> ParseOptions(const std::string& command, std::span<char* const> args,
                                   const std::vector<OptionSpec>& specs) {
  ParsedOptions parsed;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg.rfind("--", 0) != 0 || arg == "--") {
      parsed.positional_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(2);
    std::string value;
    bool inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      inline_value = true;
    }
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      return Error(ErrorCode::kInvalidArgument,
                   command + ": unknown option --" + name + " (see " + command + " --help)");
    }
    if (spec->takes_value && !inline_value) {
      if (i + 1 >= args.size()) {
        return Error(ErrorCode::kInvalidArgument, command + ": --" + name + " needs a value");
      }
      value = args[++i];
    } else if (!spec->takes_value && inline_value) {
      return Error(ErrorCode::kInvalidArgument, command + ": --" + name + " takes no value");
    }
    auto& slot = parsed.values_[name];
    if (!slot.empty() && !spec->repeatable) {
      return Error(ErrorCode::kInvalidArgument, command + ": --" + name + " given twice");
    }
    slot.push_back(value);
  }
  return parsed;
}

}  // namespace ferry
