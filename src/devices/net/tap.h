// A TAP interface as a virtio-net backend. Frames carry the 12-byte
// virtio-net header (IFF_VNET_HDR with TUNSETVNETHDRSZ 12, the virtio 1.x
// layout), so guest buffers go to and come from the kernel as they are:
// one readv or writev straight on guest memory, no copy in between.
#pragma once

#include <sys/uio.h>

#include <span>
#include <string>

#include "base/fd.h"
#include "base/result.h"

namespace ferry {

inline constexpr size_t kVirtioNetHeaderSize = 12;

class Tap {
 public:
  // Attaches to the TAP interface `name` (the kernel creates it if it does
  // not exist; it then goes away with the VM). Non-blocking.
  static Result<Tap> Open(const std::string& name);

  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }

  // One frame, virtio-net header first. Returns 0 when nothing is waiting.
  Result<size_t> Receive(std::span<const iovec> buffers);
  // One frame, virtio-net header first. A full TAP queue drops the frame, as
  // a real NIC's wire would.
  Status Send(std::span<const iovec> frame);

 private:
  Tap(Fd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  Fd fd_;
  std::string name_;
};

}  // namespace ferry
