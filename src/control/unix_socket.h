// UNIX-socket plumbing shared by the control server and its clients.
#pragma once

#include <sys/un.h>

#include <optional>
#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace ferry {

Result<sockaddr_un> UnixAddress(const std::string& path);
Result<Fd> ConnectUnix(const std::string& path);
Status WriteLine(int fd, const std::string& line);

// Accumulates bytes from a socket and hands out complete lines.
class LineReader {
 public:
  LineReader(int fd, size_t max_line) : fd_(fd), max_line_(max_line) {}
  // Reads what is available (one read); returns a line when one is complete.
  Result<std::optional<std::string>> ReadAvailable();
  bool eof() const { return eof_; }

 private:
  std::optional<std::string> TakeLine();
  int fd_;
  size_t max_line_;
  std::string buffer_;
  bool eof_ = false;
};

// Sends one request line and waits up to `timeout_ms` for the reply line.
Result<std::string> Roundtrip(const std::string& path, const std::string& request, int timeout_ms);

}  // namespace ferry
