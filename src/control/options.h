// Command-line options of the form --name value, --name=value and --flag.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"

namespace ferry {

struct OptionSpec {
  std::string name;  // without the leading dashes
  bool takes_value;
  bool repeatable = false;
};

class ParsedOptions {
 public:
  bool Has(const std::string& name) const { return values_.count(name) != 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& All(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  friend Result<ParsedOptions> ParseOptions(const std::string&, std::span<char* const>,
                                            const std::vector<OptionSpec>&);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
};

// `command` names the subcommand in error messages ("ferry run").
Result<ParsedOptions> ParseOptions(const std::string& command, std::span<char* const> args,
                                   const std::vector<OptionSpec>& specs);

}  // namespace ferry
