// A small command-line parser in qemu-img's style: options and operands in
// any order, "-o value", "--name value" or "--name=value", "--" ends options.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"

namespace ferry::image {

struct ArgSpec {
  std::set<std::string> with_value = {};  // e.g. "-f", "--output"
  std::set<std::string> flags = {};       // e.g. "-p", "--force"
  std::set<std::string> repeatable = {};  // values joined with ',' (e.g. "-o")
};

class Args {
 public:
  static Result<Args> Parse(int argc, char** argv, const ArgSpec& spec);

  bool Has(const std::string& name) const { return flags_.count(name) || values_.count(name); }
  std::optional<std::string> Get(const std::string& name) const;
  const std::vector<std::string>& operands() const { return operands_; }

 private:
  std::set<std::string> flags_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> operands_;
};

}  // namespace ferry::image
