// Parsers for command-line values. Pure functions: they print nothing and never exit.
#pragma once

#include <stdint.h>

namespace guest {

// "4096", "64K", "256M", "1.5G" (binary suffixes K, M, G, either case) in bytes. A number
// without a suffix counts in bare_unit bytes.
bool parse_size(const char* text, uint64_t bare_unit, uint64_t* bytes);

// "5", "0.25", "2s" in nanoseconds (up to 9 decimals).
bool parse_seconds(const char* text, uint64_t* ns);

// Decimal digits only.
bool parse_uint(const char* text, uint64_t* value);

}  // namespace guest
