#include "rt/format.h"

#include <stdint.h>

namespace guest {
namespace {

struct Spec {
  bool left = false;
  bool zero = false;
  int width = 0;
  int longs = 0;  // 0: int, 1: long, 2: long long / size_t
};

class Writer {
 public:
  explicit Writer(FormatSink sink) : sink_(sink) {}

  void put(const char* text, size_t length) {
    if (length != 0) sink_.write(sink_.context, text, length);
    count_ += length;
  }

  void pad(char c, int n) {
    for (; n > 0; --n) put(&c, 1);
  }

  // Writes text padded to the field width.
  void field(const Spec& spec, const char* text, size_t length) {
    int fill = spec.width - static_cast<int>(length);
    if (!spec.left) pad(spec.zero ? '0' : ' ', fill);
    put(text, length);
    if (spec.left) pad(' ', fill);
  }

  void number(const Spec& spec, uint64_t value, bool negative, unsigned base) {
    char digits[24];
    size_t n = 0;
    do {
      digits[sizeof(digits) - ++n] = "0123456789abcdef"[value % base];
      value /= base;
    } while (value != 0);
    if (negative) {
      if (spec.zero) {  // the sign goes before the zero padding: -0042
        put("-", 1);
        Spec rest = spec;
        rest.width = spec.width > 0 ? spec.width - 1 : 0;
        field(rest, digits + sizeof(digits) - n, n);
        return;
      }
      digits[sizeof(digits) - ++n] = '-';
    }
    field(spec, digits + sizeof(digits) - n, n);
  }

  size_t count() const { return count_; }

 private:
  FormatSink sink_;
  size_t count_ = 0;
};

const char* parse_spec(const char* p, Spec& spec) {
  for (;; ++p) {
    if (*p == '-') {
      spec.left = true;
    } else if (*p == '0') {
      spec.zero = true;
    } else {
      break;
    }
  }
  while (*p >= '0' && *p <= '9') spec.width = spec.width * 10 + (*p++ - '0');
  if (*p == 'z') {
    spec.longs = 2;
    ++p;
  }
  while (*p == 'l') {
    ++spec.longs;
    ++p;
  }
  return p;
}

uint64_t unsigned_arg(const Spec& spec, va_list& args) {
  if (spec.longs == 0) return va_arg(args, unsigned int);
  if (spec.longs == 1) return va_arg(args, unsigned long);
  return va_arg(args, unsigned long long);
}

int64_t signed_arg(const Spec& spec, va_list& args) {
  if (spec.longs == 0) return va_arg(args, int);
  if (spec.longs == 1) return va_arg(args, long);
  return va_arg(args, long long);
}

}  // namespace

size_t vformat(FormatSink sink, const char* fmt, va_list args_in) {
  va_list args;
  va_copy(args, args_in);
  Writer out(sink);
  const char* p = fmt;
  while (*p != '\0') {
    const char* text = p;
    while (*p != '\0' && *p != '%') ++p;
    out.put(text, static_cast<size_t>(p - text));
    if (*p == '\0') break;
    Spec spec;
    p = parse_spec(p + 1, spec);
    switch (char conversion = *p++) {
      case 'd':
      case 'i': {
        int64_t v = signed_arg(spec, args);
        out.number(spec, v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v), v < 0,
                   10);
        break;
      }
      case 'u':
        out.number(spec, unsigned_arg(spec, args), false, 10);
        break;
      case 'x':
        out.number(spec, unsigned_arg(spec, args), false, 16);
        break;
      case 's': {
        const char* s = va_arg(args, const char*);
        if (s == nullptr) s = "(null)";
        size_t n = 0;
        while (s[n] != '\0') ++n;
        out.field(spec, s, n);
        break;
      }
      case 'c': {
        char c = static_cast<char>(va_arg(args, int));
        out.field(spec, &c, 1);
        break;
      }
      case '%':
        out.put("%", 1);
        break;
      default:  // unknown conversion: show it rather than guess at the arguments
        out.put("%", 1);
        if (conversion == '\0') return out.count();
        out.put(&conversion, 1);
        break;
    }
  }
  va_end(args);
  return out.count();
}

namespace {

struct Buffer {
  char* data;
  size_t capacity;
  size_t used;
};

void buffer_write(void* context, const char* text, size_t length) {
  auto* b = static_cast<Buffer*>(context);
  for (size_t i = 0; i < length && b->used + 1 < b->capacity; ++i) b->data[b->used++] = text[i];
}

}  // namespace

size_t vsnformat(char* buf, size_t capacity, const char* fmt, va_list args) {
  Buffer b{buf, capacity, 0};
  size_t n = vformat(FormatSink{buffer_write, &b}, fmt, args);
  if (capacity != 0) buf[b.used] = '\0';
  return n;
}

size_t snformat(char* buf, size_t capacity, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  size_t n = vsnformat(buf, capacity, fmt, args);
  va_end(args);
  return n;
}

const char* format_size(uint64_t bytes, char (&buf)[24]) {
  static constexpr char kSuffixes[] = "KMGTPE";
  int shift = 0;
  while (bytes != 0 && shift < 60 && (bytes >> shift) % 1024 == 0 && bytes >> shift >= 1024) {
    shift += 10;
  }
  if (shift == 0) {
    snformat(buf, sizeof(buf), "%lu", bytes);
  } else {
    snformat(buf, sizeof(buf), "%lu%c", bytes >> shift, kSuffixes[shift / 10 - 1]);
  }
  return buf;
}

const char* format_ms(uint64_t ns, char (&buf)[24]) {
  uint64_t us = ns / 1000;
  snformat(buf, sizeof(buf), "%lu.%03lu", us / 1000, us % 1000);
  return buf;
}

}  // namespace guest
