// Small text helpers the descriptor and configuration parsers share.
#pragma once

#include <string>
#include <vector>

namespace ferry::image {

// `s` without leading and trailing spaces, tabs, CRs and LFs.
std::string Trim(const std::string& s);
// `s` cut at every `sep`, each part trimmed (an empty `s` gives one "").
std::vector<std::string> SplitTrimmed(const std::string& s, char sep);

}  // namespace ferry::image
