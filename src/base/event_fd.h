// An eventfd: a counter that one thread (or KVM) signals and another waits on.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "base/fd.h"
#include "base/result.h"

namespace ferry {

class EventFd {
 public:
  static Result<EventFd> Create() {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return ErrnoError("eventfd");
    return EventFd(Fd(fd));
  }
  EventFd() = default;

  // Adds one to the counter; never blocks (a saturated counter is still set).
  void Signal() const {
    uint64_t one = 1;
    ssize_t n = ::write(fd_.get(), &one, sizeof one);
    (void)n;
  }
  // Resets the counter; returns whether it was set.
  bool Drain() const {
    uint64_t value = 0;
    return ::read(fd_.get(), &value, sizeof value) == sizeof value && value != 0;
  }
  int get() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

 private:
  explicit EventFd(Fd fd) : fd_(std::move(fd)) {}
  Fd fd_;
};

}  // namespace ferry
