// The guest command line: "WORKLOAD [--name value]...".
//
// The runtime splits it; each workload then asks for its options through the typed
// getters below, and reject_unused() reports whatever no getter asked for. Every
// problem ends the guest with one "ferry-guest: error: ..." line and status 2.
#pragma once

#include <stdint.h>

namespace guest {

struct Rate {
  bool max = false;  // as fast as possible
  uint64_t bytes_per_second = 0;
};

struct Duration {
  bool forever = false;
  uint64_t ns = 0;
};

class Args {
 public:
  static constexpr int kMaxOptions = 16;
  static constexpr int kMaxLength = 1024;
  static constexpr int kMaxKernelParams = 32;

  // Splits a copy of cmdline. Exits on syntax errors.
  void parse(const char* cmdline);

  // The first word; empty when the command line is empty.
  const char* workload() const { return workload_; }

  // Bytes: "4096", "64K", "64M", "1.5G" (binary suffixes).
  uint64_t size(const char* name, uint64_t fallback);
  // "max", or bytes per second written like a size where a bare number means MiB:
  // "100M" = "100" = 100 MiB/s, "2G" = 2 GiB/s.
  Rate rate(const char* name, Rate fallback);
  // "forever", or seconds with optional decimals and an optional "s": "5", "0.25s".
  Duration duration(const char* name, Duration fallback);
  // A plain unsigned integer in [min, max].
  uint64_t number(const char* name, uint64_t fallback, uint64_t min, uint64_t max);
  // True when "--name" is present (it takes no value).
  bool flag(const char* name);
  // The position of the value in choices[0..count), or fallback when absent.
  int choice(const char* name, const char* const* choices, int count, int fallback);

  // Any string (e.g. an address); fallback when absent.
  const char* text(const char* name, const char* fallback);

  // Words a VMM added for Linux ("virtio_mmio.device=..."): set aside, not options.
  int kernel_param_count() const { return param_count_; }
  const char* kernel_param(int i) const { return params_[i]; }

  // Exits naming the first option that no getter asked for.
  void reject_unused() const;

 private:
  struct Option {
    const char* name;   // without the leading "--"
    const char* value;  // nullptr when none was given
    bool used;
  };

  // The option marked as used, or nullptr when it is absent.
  Option* find(const char* name);
  // The option's value, or nullptr when the option is absent. Exits when it is present
  // without a value.
  const char* value_of(const char* name);
  [[noreturn]] void bad_value(const char* name, const char* value, const char* expected) const;

  char text_[kMaxLength] = {};
  const char* workload_ = "";
  Option options_[kMaxOptions] = {};
  int count_ = 0;
  const char* params_[kMaxKernelParams] = {};
  int param_count_ = 0;
};

}  // namespace guest
