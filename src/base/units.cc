#include "base/units.h"

#include <cstdio>
#include <limits>

namespace ferry {

Result<uint64_t> ParseUnsigned(std::string_view text) {
  if (text.empty()) return Error(ErrorCode::kInvalidArgument, "empty number");
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Error(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' is not a number");
    }
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return Error(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' is too large");
    }
    value = value * 10 + digit;
  }
  return value;
}

Result<uint64_t> ParseSize(std::string_view text, uint64_t default_unit) {
  std::string_view digits = text;
  size_t end = 0;
  while (end < digits.size() && digits[end] >= '0' && digits[end] <= '9') ++end;
  std::string_view suffix = text.substr(end);
  digits = text.substr(0, end);
  if (digits.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + std::string(text) + "' is not a size (use e.g. 512M or 2G)");
  }
  uint64_t unit = default_unit;
  if (!suffix.empty()) {
    char letter = suffix[0];
    std::string_view rest = suffix.substr(1);
    if (rest != "" && rest != "B" && rest != "iB") letter = '?';
    switch (letter) {
      case 'B':
      case 'b':
        unit = rest.empty() ? 1 : 0;
        break;
      case 'K':
      case 'k':
        unit = kKiB;
        break;
      case 'M':
      case 'm':
        unit = kMiB;
        break;
      case 'G':
      case 'g':
        unit = kGiB;
        break;
      case 'T':
      case 't':
        unit = 1024 * kGiB;
        break;
      default:
        unit = 0;
    }
    if (unit == 0) {
      return Error(ErrorCode::kInvalidArgument,
                   "'" + std::string(text) + "' has an unknown size suffix (use K, M, G or T)");
    }
  }
  ASSIGN_OR_RETURN(uint64_t value, ParseUnsigned(digits));
  if (value != 0 && unit > std::numeric_limits<uint64_t>::max() / value) {
    return Error(ErrorCode::kInvalidArgument, "'" + std::string(text) + "' is too large");
  }
  return value * unit;
}

std::string FormatSize(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0 || value == static_cast<double>(static_cast<uint64_t>(value))) {
    std::snprintf(buf, sizeof buf, "%.0f %s", value, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", value, kUnits[unit]);
  }
  return buf;
}

}  // namespace ferry
