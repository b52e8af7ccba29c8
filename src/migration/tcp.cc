#include "migration/tcp.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace ferry::migration {
namespace {

std::string Describe(const TcpAddress& a) {
  return a.host + ":" + a.port;
}

Result<addrinfo*> Resolve(const TcpAddress& address, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = passive ? AI_PASSIVE : 0;
  addrinfo* result = nullptr;
  const char* host = address.host.empty() ? nullptr : address.host.c_str();
  int rc = ::getaddrinfo(host, address.port.c_str(), &hints, &result);
  if (rc != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "cannot resolve " + Describe(address) + ": " + ::gai_strerror(rc));
  }
  return result;
}

}  // namespace

Result<TcpAddress> ParseTcpAddress(const std::string& spec) {
  if (spec.rfind("tcp:", 0) != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "'" + spec + "' is not a migration address: use tcp:HOST:PORT");
  }
  std::string rest = spec.substr(4);
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon + 1 == rest.size()) {
    return Error(ErrorCode::kInvalidArgument, "'" + spec + "' lacks a port: use tcp:HOST:PORT");
  }
  TcpAddress address{rest.substr(0, colon), rest.substr(colon + 1)};
  if (address.host.size() >= 2 && address.host.front() == '[' && address.host.back() == ']') {
    address.host = address.host.substr(1, address.host.size() - 2);
  }
  return address;
}

void TuneSocket(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Large buffers let a whole 4 MiB batch sit in the kernel while the other
  // side works. net.core.[rw]mem_max caps the plain options; with
  // CAP_NET_ADMIN the FORCE variants go past it.
  int buffer = 8 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof buffer) < 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) < 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
}

Result<Fd> ConnectTcp(const TcpAddress& address, int timeout_ms) {
  ASSIGN_OR_RETURN(addrinfo * list, Resolve(address, false));
  int last_error = ECONNREFUSED;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) continue;
    int rc = ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
      pollfd pfd{fd.get(), POLLOUT, 0};
      rc = ::poll(&pfd, 1, timeout_ms);
      if (rc == 0) {
        last_error = ETIMEDOUT;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc < 0) {
      last_error = errno;
      continue;
    }
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    TuneSocket(fd.get());
    ::freeaddrinfo(list);
    return fd;
  }
  ::freeaddrinfo(list);
  return ErrnoError("cannot connect to " + Describe(address) + " (is `ferry receive` listening?)",
                    last_error);
}

Result<Fd> ListenTcp(const TcpAddress& address) {
  ASSIGN_OR_RETURN(addrinfo * list, Resolve(address, true));
  int last_error = EADDRNOTAVAIL;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
    if (!fd.valid()) continue;
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) < 0 || ::listen(fd.get(), 1) < 0) {
      last_error = errno;
      continue;
    }
    ::freeaddrinfo(list);
    return fd;
  }
  ::freeaddrinfo(list);
  return ErrnoError("cannot listen on " + Describe(address), last_error);
}

Result<Fd> AcceptTcp(int listener, int timeout_ms) {
  pollfd pfd{listener, POLLIN, 0};
  for (;;) {
    int rc = ::poll(&pfd, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return ErrnoError("poll");
    if (rc == 0) return Error(ErrorCode::kUnavailable, "no migration arrived in time");
    break;
  }
  Fd fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd.valid()) return ErrnoError("accept");
  TuneSocket(fd.get());
  return fd;
}

}  // namespace ferry::migration
