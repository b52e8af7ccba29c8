// Where the guest's serial output goes: a file descriptor (stdout or a file),
// written a line at a time so that observers see whole lines promptly.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace ferry {

class ConsoleSink {
 public:
  // "stdio", "file:PATH" or "none".
  static Result<ConsoleSink> Open(const std::string& spec);

  ConsoleSink(ConsoleSink&&) = default;
  ConsoleSink& operator=(ConsoleSink&&) = default;
  ~ConsoleSink() { Flush(); }

  void Put(uint8_t byte);
  void Flush();

 private:
  ConsoleSink(int fd, Fd owned) : fd_(fd), owned_(std::move(owned)) {}
  int fd_;  // -1: discard
  Fd owned_;
  std::vector<uint8_t> line_;
};

}  // namespace ferry
