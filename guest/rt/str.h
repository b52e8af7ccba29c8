// The few string helpers a freestanding guest needs.
#pragma once

#include <stddef.h>

namespace guest {

inline bool str_equal(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

inline size_t str_length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

inline bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace guest
