// A small printf-style formatter: flags '-' and '0', a field width, the length
// modifiers l, ll and z, and the conversions d i u x s c %. Enough for the guest's
// output lines; no floating point (the runtime is built general-registers-only).
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

namespace guest {

// Where formatted text goes, a chunk at a time.
struct FormatSink {
  void (*write)(void* context, const char* text, size_t length);
  void* context;
};

// Returns the number of characters produced.
size_t vformat(FormatSink sink, const char* fmt, va_list args);

// Formats into buf (always NUL-terminated, truncated to capacity - 1 characters).
// Returns the length the full text would have.
size_t snformat(char* buf, size_t capacity, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t vsnformat(char* buf, size_t capacity, const char* fmt, va_list args);

// Formats a byte count with the largest binary suffix that divides it ("64M", "4097").
const char* format_size(uint64_t bytes, char (&buf)[24]);

// Formats ns as milliseconds with three decimals ("12.345"); returns buf.
const char* format_ms(uint64_t ns, char (&buf)[24]);

}  // namespace guest
