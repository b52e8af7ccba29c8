#include "devices/virtio/queue_worker.h"

#include <pthread.h>
#include <sys/epoll.h>

#include <cerrno>

namespace ferry {
namespace {

// Marks a device's own fd in epoll data (eventfds carry their bare fd).
constexpr uint64_t kDeviceFdTag = uint64_t{1} << 32;

}  // namespace

Result<std::unique_ptr<QueueWorker>> QueueWorker::Start(const std::vector<int>& queue_fds,
                                                        std::function<void()> service,
                                                        std::string name,
                                                        const std::vector<int>& device_fds,
                                                        std::function<void(int)> device_event) {
  Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll.valid()) return ErrnoError("epoll_create1");
  ASSIGN_OR_RETURN(EventFd control, EventFd::Create());
  std::vector<int> fds = queue_fds;
  fds.push_back(control.get());
  for (int fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) < 0) return ErrnoError("epoll_ctl");
  }
  for (int fd : device_fds) {
    // Edge-triggered: a device that cannot take more (no receive buffers)
    // leaves its fd readable without making the worker spin.
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = static_cast<uint32_t>(fd) | kDeviceFdTag;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) < 0) return ErrnoError("epoll_ctl");
  }
  std::unique_ptr<QueueWorker> worker(new QueueWorker(std::move(epoll), std::move(control),
                                                      std::move(service), std::move(device_event)));
  worker->thread_ = std::thread([w = worker.get(), name] {
    ::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());
    w->Loop();
  });
  return worker;
}

QueueWorker::~QueueWorker() {
  stop_.store(true);
  control_.Signal();
  if (thread_.joinable()) thread_.join();
}

void QueueWorker::Loop() {
  epoll_event events[8];
  while (!stop_.load()) {
    int n = ::epoll_wait(epoll_.get(), events, 8, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t data = events[i].data.u64;
      if (data & kDeviceFdTag) {
        if (device_event_) device_event_(static_cast<int>(static_cast<uint32_t>(data)));
        continue;
      }
      uint64_t value;
      ssize_t got = ::read(static_cast<int>(static_cast<uint32_t>(data)), &value, sizeof value);
      (void)got;
    }
    if (stop_.load()) return;
    service_();
  }
}

}  // namespace ferry
