#include "control/api_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "control/unix_socket.h"

namespace ferry {
namespace {

constexpr size_t kMaxRequestBytes = 64 * 1024;
constexpr int kClientIdleMs = 10'000;

// A socket file nobody answers on is left over from a VMM that died: reuse it.
Status ClaimSocketPath(const std::string& path) {
  RETURN_IF_ERROR(CheckControlSocketPath(path));
  if (::unlink(path.c_str()) < 0 && errno != ENOENT) {
    return ErrnoError("removing stale socket " + path);
  }
  return OkStatus();
}

}  // namespace

Status CheckControlSocketPath(const std::string& path) {
  RETURN_IF_ERROR(UnixAddress(path));
  struct stat st;
  if (::lstat(path.c_str(), &st) < 0) {
    if (errno == ENOENT) return OkStatus();
    return ErrnoError("control socket " + path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error(
        ErrorCode::kFailedPrecondition,
        "control socket path " + path + " exists and is not a socket: choose another --api");
  }
  Result<Fd> probe = ConnectUnix(path);
  if (probe.ok()) {
    return Error(ErrorCode::kFailedPrecondition, "control socket " + path +
                                                     " is in use by a running VM: stop it or "
                                                     "choose another --api path");
  }
  return OkStatus();
}

Json ErrorReply(const std::string& message) {
  Json reply = Json::MakeObject();
  reply.Set("ok", false);
  reply.Set("error", message);
  return reply;
}

Result<std::unique_ptr<ApiServer>> ApiServer::Start(const std::string& path, ApiHandler* handler) {
  ASSIGN_OR_RETURN(sockaddr_un addr, UnixAddress(path));
  RETURN_IF_ERROR(ClaimSocketPath(path));
  Fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) return ErrnoError("socket");
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    return ErrnoError("cannot bind control socket " + path);
  }
  if (::listen(listener.get(), 8) < 0) {
    ::unlink(path.c_str());
    return ErrnoError("listen on " + path);
  }
  Fd wakeup(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeup.valid()) {
    ::unlink(path.c_str());
    return ErrnoError("eventfd");
  }
  std::unique_ptr<ApiServer> server(
      new ApiServer(path, std::move(listener), std::move(wakeup), handler));
  server->thread_ = std::thread([s = server.get()] { s->Serve(); });
  return server;
}

ApiServer::ApiServer(std::string path, Fd listener, Fd wakeup, ApiHandler* handler)
    : path_(std::move(path)),
      listener_(std::move(listener)),
      wakeup_(std::move(wakeup)),
      handler_(handler) {}

ApiServer::~ApiServer() {
  uint64_t one = 1;
  (void)!::write(wakeup_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(clients_mu_);
  for (Client& client : clients_) client.thread.join();
  ::unlink(path_.c_str());
}

void ApiServer::ReapFinishedClients() {
  std::lock_guard lock(clients_mu_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->done.load()) {
      it->thread.join();
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

void ApiServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {wakeup_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    ReapFinishedClients();
    if (fds[0].revents & POLLIN) {
      Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client.valid()) continue;
      std::lock_guard lock(clients_mu_);
      Client& slot = clients_.emplace_back();
      slot.thread = std::thread([this, &slot, fd = std::move(client)]() mutable {
        ServeClient(std::move(fd));
        slot.done = true;
      });
    }
  }
}

void ApiServer::ServeClient(Fd client) {
  int fd = client.get();
  LineReader reader(fd, kMaxRequestBytes);
  EventSink emit = [fd](const Json& event) { (void)WriteLine(fd, event.Dump()); };
  for (;;) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wakeup_.get(), POLLIN, 0}};
    int ready = ::poll(fds, 2, kClientIdleMs);
    if (ready <= 0 || fds[1].revents != 0) return;
    Result<std::optional<std::string>> line = reader.ReadAvailable();
    if (!line.ok()) {
      (void)WriteLine(fd, ErrorReply(line.error().message()).Dump());
      return;
    }
    if (!line->has_value()) {
      if (reader.eof()) return;
      continue;
    }
    Result<Json> request = Json::Parse(**line);
    Json reply = !request.ok()           ? ErrorReply(request.error().message())
                 : !request->is_object() ? ErrorReply("a request must be a JSON object")
                                         : handler_->Handle(*request, emit);
    if (!WriteLine(fd, reply.Dump()).ok()) return;
  }
}

}  // namespace ferry
