#include "devices/net/tap.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

namespace ferry {

Result<Tap> Tap::Open(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) {
    return Error(ErrorCode::kInvalidArgument, "TAP name '" + name + "' must be 1 to " +
                                                  std::to_string(IFNAMSIZ - 1) + " characters");
  }
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open /dev/net/tun (is the tun module loaded?)");
  ifreq request{};
  std::memcpy(request.ifr_name, name.c_str(), name.size());
  request.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd.get(), TUNSETIFF, &request) != 0) {
    int err = errno;
    if (err == EBUSY) {
      return Error(ErrorCode::kFailedPrecondition,
                   "TAP " + name + " is in use by another process (another VM?)");
    }
    return ErrnoError("attaching to TAP " + name, err);
  }
  int header = static_cast<int>(kVirtioNetHeaderSize);
  if (::ioctl(fd.get(), TUNSETVNETHDRSZ, &header) != 0) {
    return ErrnoError("setting the virtio-net header size on TAP " + name);
  }
  return Tap(std::move(fd), name);
}

Result<size_t> Tap::Receive(std::span<const iovec> buffers) {
  for (;;) {
    ssize_t n = ::readv(fd_.get(), buffers.data(), static_cast<int>(buffers.size()));
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return size_t{0};
    return ErrnoError("reading TAP " + name_);
  }
}

Status Tap::Send(std::span<const iovec> frame) {
  for (;;) {
    ssize_t n = ::writev(fd_.get(), frame.data(), static_cast<int>(frame.size()));
    if (n >= 0 || errno == EAGAIN || errno == ENOBUFS) return OkStatus();
    if (errno == EINTR) continue;
    // The interface is down or gone: frames are lost, as on a cut cable.
    if (errno == EIO || errno == ENETDOWN) return OkStatus();
    return ErrnoError("writing TAP " + name_);
  }
}

}  // namespace ferry
