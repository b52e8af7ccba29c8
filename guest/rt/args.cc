#include "rt/args.h"

#include "rt/exit.h"
#include "rt/format.h"
#include "rt/str.h"
#include "rt/values.h"

namespace guest {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_option(const char* word) {
  return word[0] == '-' && word[1] == '-' && word[2] != '\0';
}

bool starts_with(const char* word, const char* prefix) {
  while (*prefix != '\0' && *word == *prefix) ++word, ++prefix;
  return *prefix == '\0';
}

// Words meant for a Linux kernel that a VMM adds on its own: QEMU's microvm appends
// "virtio_mmio.device=512@0xfeb00e00:12" for each virtio-mmio device when it runs
// without ACPI (auto-kernel-cmdline).
bool is_kernel_param(const char* word) {
  return starts_with(word, "virtio_mmio.");
}

}  // namespace

void Args::parse(const char* cmdline) {
  int n = 0;
  for (; n + 1 < kMaxLength && cmdline[n] != '\0'; ++n) text_[n] = cmdline[n];
  text_[n] = '\0';

  // Split into words in place.
  char* words[kMaxOptions * 2 + 2 + kMaxKernelParams];
  int word_count = 0;
  for (char* p = text_; *p != '\0';) {
    while (is_space(*p)) *p++ = '\0';
    if (*p == '\0') break;
    if (word_count == static_cast<int>(sizeof(words) / sizeof(words[0]))) {
      fatal(kExitBadConfig, "too many words on the command line");
    }
    words[word_count++] = p;
    while (*p != '\0' && !is_space(*p)) ++p;
  }
  int kept = 0;
  for (int i = 0; i < word_count; ++i) {
    if (!is_kernel_param(words[i])) {
      words[kept++] = words[i];
    } else if (param_count_ < kMaxKernelParams) {
      params_[param_count_++] = words[i];
    }
  }
  word_count = kept;
  if (word_count == 0) return;

  workload_ = words[0];
  for (int i = 1; i < word_count; ++i) {
    if (!is_option(words[i])) {
      fatal(kExitBadConfig, "unexpected argument \"%s\" (options look like --name value)",
            words[i]);
    }
    char* name = words[i] + 2;
    const char* value = nullptr;
    for (char* p = name; *p != '\0'; ++p) {
      if (*p == '=') {  // --name=value
        *p = '\0';
        value = p + 1;
        break;
      }
    }
    if (value == nullptr && i + 1 < word_count && !is_option(words[i + 1])) value = words[++i];
    for (int j = 0; j < count_; ++j) {
      if (str_equal(options_[j].name, name)) {
        fatal(kExitBadConfig, "option --%s given twice", name);
      }
    }
    if (count_ == kMaxOptions) fatal(kExitBadConfig, "too many options");
    options_[count_++] = Option{name, value, false};
  }
}

Args::Option* Args::find(const char* name) {
  for (int i = 0; i < count_; ++i) {
    if (str_equal(options_[i].name, name)) {
      options_[i].used = true;
      return &options_[i];
    }
  }
  return nullptr;
}

const char* Args::value_of(const char* name) {
  Option* option = find(name);
  if (option == nullptr) return nullptr;
  if (option->value == nullptr) fatal(kExitBadConfig, "option --%s needs a value", name);
  return option->value;
}

void Args::bad_value(const char* name, const char* value, const char* expected) const {
  fatal(kExitBadConfig, "bad value \"%s\" for --%s (expected %s)", value, name, expected);
}

uint64_t Args::size(const char* name, uint64_t fallback) {
  const char* value = value_of(name);
  if (value == nullptr) return fallback;
  uint64_t bytes;
  if (!parse_size(value, 1, &bytes)) bad_value(name, value, "a size such as 4096, 64K, 256M or 1G");
  return bytes;
}

Rate Args::rate(const char* name, Rate fallback) {
  const char* value = value_of(name);
  if (value == nullptr) return fallback;
  if (str_equal(value, "max")) return Rate{true, 0};
  uint64_t bytes;
  if (!parse_size(value, 1ull << 20, &bytes) || bytes == 0) {
    bad_value(name, value, "MiB/s such as 100M, or max");
  }
  return Rate{false, bytes};
}

Duration Args::duration(const char* name, Duration fallback) {
  const char* value = value_of(name);
  if (value == nullptr) return fallback;
  if (str_equal(value, "forever")) return Duration{true, 0};
  uint64_t ns;
  if (!parse_seconds(value, &ns)) bad_value(name, value, "seconds such as 5 or 0.5, or forever");
  return Duration{false, ns};
}

uint64_t Args::number(const char* name, uint64_t fallback, uint64_t min, uint64_t max) {
  const char* value = value_of(name);
  if (value == nullptr) return fallback;
  uint64_t n;
  if (!parse_uint(value, &n) || n < min || n > max) {
    char expected[64];
    snformat(expected, sizeof(expected), "an integer from %lu to %lu", min, max);
    bad_value(name, value, expected);
  }
  return n;
}

const char* Args::text(const char* name, const char* fallback) {
  const char* value = value_of(name);
  return value == nullptr ? fallback : value;
}

bool Args::flag(const char* name) {
  Option* option = find(name);
  if (option == nullptr) return false;
  if (option->value != nullptr) {
    fatal(kExitBadConfig, "option --%s takes no value (got \"%s\")", name, option->value);
  }
  return true;
}

int Args::choice(const char* name, const char* const* choices, int count, int fallback) {
  const char* value = value_of(name);
  if (value == nullptr) return fallback;
  for (int i = 0; i < count; ++i) {
    if (str_equal(value, choices[i])) return i;
  }
  char expected[128] = "one of";
  size_t used = str_length(expected);
  for (int i = 0; i < count && used < sizeof(expected); ++i) {
    used +=
        snformat(expected + used, sizeof(expected) - used, "%s %s", i == 0 ? ":" : ",", choices[i]);
  }
  bad_value(name, value, expected);
}

void Args::reject_unused() const {
  for (int i = 0; i < count_; ++i) {
    if (!options_[i].used) {
      fatal(kExitBadConfig, "unknown option --%s for workload %s", options_[i].name, workload_);
    }
  }
}

}  // namespace guest
