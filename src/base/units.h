// Parsing and printing of human sizes ("256M", "1G") as used on the command line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace ferry {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// Parses "4096", "64K", "256M", "1G", "2T" (binary multiples, optional trailing "iB"/"B").
// A bare number means `default_unit` bytes.
Result<uint64_t> ParseSize(std::string_view text, uint64_t default_unit = 1);

// Parses a non-negative decimal integer that fits in uint64_t.
Result<uint64_t> ParseUnsigned(std::string_view text);

// "1.5 GiB", "256 MiB", "4096 B".
std::string FormatSize(uint64_t bytes);

}  // namespace ferry
