// TCP endpoints for migration: "tcp:HOST:PORT".
#pragma once

#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace ferry::migration {

struct TcpAddress {
  std::string host;
  std::string port;
};

Result<TcpAddress> ParseTcpAddress(const std::string& spec);
// Connects within `timeout_ms`; a refused or unreachable peer is a clear error.
Result<Fd> ConnectTcp(const TcpAddress& address, int timeout_ms);
Result<Fd> ListenTcp(const TcpAddress& address);
// Waits for one connection (timeout_ms < 0: forever).
Result<Fd> AcceptTcp(int listener, int timeout_ms);
// Bulk-transfer settings: no Nagle delay, large buffers.
void TuneSocket(int fd);

}  // namespace ferry::migration
