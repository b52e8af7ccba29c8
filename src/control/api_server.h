// The per-VM control socket: JSON over a UNIX stream socket, one request and
// one reply per line (docs/control-protocol.md).
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/fd.h"
#include "base/json.h"
#include "base/result.h"

namespace ferry {

// Sends an event line to the client before the reply (progress of a long request).
using EventSink = std::function<void(const Json& event)>;

class ApiHandler {
 public:
  virtual ~ApiHandler() = default;
  // Returns the reply object for one request object. Called concurrently for
  // different clients (a status request must not wait for a migration).
  virtual Json Handle(const Json& request, const EventSink& emit) = 0;
};

// Refuses a --api path that is not a socket or that a live VMM answers on. Run
// before making a VM, so that a bad path costs nothing; Start checks again.
Status CheckControlSocketPath(const std::string& path);

class ApiServer {
 public:
  // Binds `path` (refusing one that a live VMM answers on) and serves on a thread.
  static Result<std::unique_ptr<ApiServer>> Start(const std::string& path, ApiHandler* handler);
  ~ApiServer();  // stops serving and removes the socket file

 private:
  ApiServer(std::string path, Fd listener, Fd wakeup, ApiHandler* handler);
  void Serve();
  void ServeClient(Fd client);
  void ReapFinishedClients();

  std::string path_;
  Fd listener_;
  Fd wakeup_;  // eventfd: tells the serving thread to end
  ApiHandler* handler_;
  std::thread thread_;
  struct Client {
    std::thread thread;
    std::atomic<bool> done{false};
  };
  std::mutex clients_mu_;
  std::list<Client> clients_;
};

// Replies with {"ok":false,"error":message}.
Json ErrorReply(const std::string& message);

}  // namespace ferry
