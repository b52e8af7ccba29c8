// The thread that serves a device's queues, off the vCPU threads: it sleeps
// in epoll on the queues' eventfds (signalled by KVM ioeventfds when the
// guest notifies, or by the transport's userspace fallback) and on a control
// eventfd, and calls `service` whenever one fires. A device may add fds of
// its own (a TAP): watched edge-triggered, never read here, reported to
// `device_event` before `service` runs.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/event_fd.h"
#include "base/fd.h"
#include "base/result.h"

namespace ferry {

class QueueWorker {
 public:
  static Result<std::unique_ptr<QueueWorker>> Start(const std::vector<int>& queue_fds,
                                                    std::function<void()> service, std::string name,
                                                    const std::vector<int>& device_fds = {},
                                                    std::function<void(int)> device_event = {});
  ~QueueWorker();  // stops the thread and joins it
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  // Makes the thread look at the queues again (after resume or restore).
  void Kick() { control_.Signal(); }

 private:
  QueueWorker(Fd epoll, EventFd control, std::function<void()> service,
              std::function<void(int)> device_event)
      : epoll_(std::move(epoll)),
        control_(std::move(control)),
        service_(std::move(service)),
        device_event_(std::move(device_event)) {}
  void Loop();

  Fd epoll_;
  EventFd control_;
  std::function<void()> service_;
  std::function<void(int)> device_event_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace ferry
