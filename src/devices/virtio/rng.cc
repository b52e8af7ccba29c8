#include "devices/virtio/rng.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "devices/virtio/chain_io.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

// Bounds the time one request holds the worker.
constexpr uint64_t kMaxBytesPerRequest = 64 * 1024;

}  // namespace

uint32_t VirtioRng::device_type() const {
  return virtio::kDeviceRng;
}

void VirtioRng::ReadConfig(uint64_t, std::span<uint8_t> data) const {
  std::fill(data.begin(), data.end(), 0);
}

Result<uint32_t> VirtioRng::HandleRequest(uint16_t, const DescriptorChain& chain,
                                          GuestMemory& memory) {
  std::vector<GuestRange> target =
      SliceRanges(chain.writable, 0, std::min(chain.writable_bytes, kMaxBytesPerRequest));
  ASSIGN_OR_RETURN(
      size_t filled, memory.WriteWith(target, [](std::span<const iovec> iov) -> Result<size_t> {
        size_t total = 0;
        for (const iovec& v : iov) {
          size_t done = 0;
          while (done < v.iov_len) {
            ssize_t n = ::getrandom(static_cast<uint8_t*>(v.iov_base) + done, v.iov_len - done, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return ErrnoError("getrandom");
            done += static_cast<size_t>(n);
          }
          total += done;
        }
        return total;
      }));
  return static_cast<uint32_t>(filled);
}

}  // namespace ferry
