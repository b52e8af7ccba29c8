#include "control/unix_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ferry {

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Error(ErrorCode::kInvalidArgument, "socket path '" + path + "' must be 1 to " +
                                                  std::to_string(sizeof addr.sun_path - 1) +
                                                  " bytes long");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

Result<Fd> ConnectUnix(const std::string& path) {
  ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return ErrnoError("socket");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    int err = errno;
    if (err == ENOENT) {
      return Error(ErrorCode::kNotFound, "no VM at " + path + " (no such control socket)");
    }
    if (err == ECONNREFUSED) {
      return Error(ErrorCode::kUnavailable,
                   "no VM is listening on " + path + " (the socket is left over)");
    }
    return ErrnoError("connect to " + path, err);
  }
  return fd;
}

Status WriteLine(int fd, const std::string& line) {
  std::string data = line + "\n";
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("write to control socket");
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

std::optional<std::string> LineReader::TakeLine() {
  size_t newline = buffer_.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  std::string line = buffer_.substr(0, newline);
  buffer_.erase(0, newline + 1);
  return line;
}

Result<std::optional<std::string>> LineReader::ReadAvailable() {
  if (auto line = TakeLine()) return line;
  char chunk[4096];
  ssize_t n = ::read(fd_, chunk, sizeof chunk);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return std::optional<std::string>();
    return ErrnoError("read from control socket");
  }
  if (n == 0) {
    eof_ = true;
    return std::optional<std::string>();
  }
  buffer_.append(chunk, static_cast<size_t>(n));
  if (auto line = TakeLine()) return line;
  if (buffer_.size() > max_line_) {
    return Error(ErrorCode::kInvalidArgument,
                 "request longer than " + std::to_string(max_line_) + " bytes");
  }
  return std::optional<std::string>();
}

Result<std::string> Roundtrip(const std::string& path, const std::string& request, int timeout_ms) {
  ASSIGN_OR_RETURN(Fd fd, ConnectUnix(path));
  RETURN_IF_ERROR(WriteLine(fd.get(), request));
  LineReader reader(fd.get(), 1 << 20);
  for (;;) {
    pollfd pfd{fd.get(), POLLIN, 0};
    int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready == 0) {
      return Error(ErrorCode::kUnavailable, "the VM at " + path + " did not answer in time");
    }
    if (ready < 0 && errno != EINTR) return ErrnoError("poll");
    ASSIGN_OR_RETURN(std::optional<std::string> line, reader.ReadAvailable());
    if (line) return *line;
    if (reader.eof()) {
      return Error(ErrorCode::kUnavailable, "the VM at " + path + " closed the connection");
    }
  }
}

}  // namespace ferry
