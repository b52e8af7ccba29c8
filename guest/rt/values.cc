#include "rt/values.h"

#include "rt/str.h"

namespace guest {
namespace {

constexpr int kMaxDecimals = 9;

// Parses "DIGITS[.DIGITS]" and multiplies it by unit, exactly (to kMaxDecimals
// decimals). Leaves the first character after the number in *rest. False on overflow or
// when there is no digit.
bool parse_scaled(const char* text, uint64_t unit, uint64_t* out, const char** rest) {
  const char* p = text;
  uint64_t whole = 0;
  bool any_digit = false;
  for (; is_digit(*p); ++p, any_digit = true) {
    if (__builtin_mul_overflow(whole, 10, &whole) ||
        __builtin_add_overflow(whole, static_cast<uint64_t>(*p - '0'), &whole)) {
      return false;
    }
  }
  uint64_t fraction = 0;
  uint64_t scale = 1;  // 10^decimals kept
  if (*p == '.') {
    for (++p; is_digit(*p); ++p, any_digit = true) {
      if (scale == 1'000'000'000) continue;  // beyond kMaxDecimals: ignored
      fraction = fraction * 10 + static_cast<uint64_t>(*p - '0');
      scale *= 10;
    }
  }
  uint64_t value;
  if (!any_digit || __builtin_mul_overflow(whole, unit, &value)) return false;
  auto part = static_cast<uint64_t>(static_cast<unsigned __int128>(fraction) * unit / scale);
  if (__builtin_add_overflow(value, part, &value)) return false;
  *out = value;
  *rest = p;
  return true;
}

// The multiplier of a binary suffix ("" gives bare_unit); 0 when it is not one.
uint64_t suffix_unit(const char* suffix, uint64_t bare_unit) {
  if (suffix[0] == '\0') return bare_unit;
  if (suffix[1] != '\0') return 0;
  switch (suffix[0]) {
    case 'K':
    case 'k':
      return 1ull << 10;
    case 'M':
    case 'm':
      return 1ull << 20;
    case 'G':
    case 'g':
      return 1ull << 30;
    default:
      return 0;
  }
}

}  // namespace

bool parse_size(const char* text, uint64_t bare_unit, uint64_t* bytes) {
  const char* suffix = text;
  while (is_digit(*suffix) || *suffix == '.') ++suffix;
  uint64_t unit = suffix_unit(suffix, bare_unit);
  const char* rest;
  return unit != 0 && parse_scaled(text, unit, bytes, &rest) && rest == suffix;
}

bool parse_seconds(const char* text, uint64_t* ns) {
  const char* rest;
  return parse_scaled(text, 1'000'000'000, ns, &rest) && (rest[0] == '\0' || str_equal(rest, "s"));
}

bool parse_uint(const char* text, uint64_t* value) {
  if (!is_digit(*text)) return false;
  uint64_t v = 0;
  for (; is_digit(*text); ++text) {
    if (__builtin_mul_overflow(v, 10, &v) ||
        __builtin_add_overflow(v, static_cast<uint64_t>(*text - '0'), &v)) {
      return false;
    }
  }
  if (*text != '\0') return false;
  *value = v;
  return true;
}

}  // namespace guest
