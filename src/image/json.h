// Just enough JSON output for `--output=json`: quoted strings and objects
// built by the caller.
#pragma once

#include <string>
#include <string_view>

namespace ferry::image {

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

}  // namespace ferry::image
