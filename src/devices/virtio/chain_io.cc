#include "devices/virtio/chain_io.h"

#include <limits.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry {

std::vector<GuestRange> SliceRanges(std::span<const GuestRange> ranges, uint64_t offset,
                                    uint64_t len) {
  std::vector<GuestRange> out;
  for (const GuestRange& r : ranges) {
    if (len == 0) break;
    if (offset >= r.len) {
      offset -= r.len;
      continue;
    }
    uint64_t take = std::min<uint64_t>(r.len - offset, len);
    out.push_back({r.gpa + offset, static_cast<uint32_t>(take)});
    len -= take;
    offset = 0;
  }
  return out;
}

uint64_t TotalBytes(std::span<const GuestRange> ranges) {
  uint64_t total = 0;
  for (const GuestRange& r : ranges) total += r.len;
  return total;
}

Status CopyFromGuest(const GuestMemory& memory, std::span<const GuestRange> ranges,
                     std::span<uint8_t> out) {
  size_t done = 0;
  for (const GuestRange& r : SliceRanges(ranges, 0, out.size())) {
    ASSIGN_OR_RETURN(uint8_t * host, memory.Translate(r.gpa, r.len));
    std::memcpy(out.data() + done, host, r.len);
    done += r.len;
  }
  if (done != out.size()) return Error(ErrorCode::kCorrupt, "request shorter than its header");
  return OkStatus();
}

Result<std::vector<iovec>> ReadableIovecs(const GuestMemory& memory,
                                          std::span<const GuestRange> ranges) {
  std::vector<iovec> iov;
  iov.reserve(ranges.size());
  for (const GuestRange& r : ranges) {
    ASSIGN_OR_RETURN(uint8_t * host, memory.Translate(r.gpa, r.len));
    iov.push_back({host, r.len});
  }
  return iov;
}

namespace {

template <typename Op>
Result<size_t> TransferAll(std::span<const iovec> input, uint64_t offset, Op op, const char* what) {
  std::vector<iovec> iov(input.begin(), input.end());
  size_t first = 0;
  size_t total = 0;
  while (first < iov.size()) {
    if (iov[first].iov_len == 0) {
      ++first;
      continue;
    }
    int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = op(&iov[first], count, static_cast<off_t>(offset + total));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(what);
    }
    if (n == 0) break;  // end of file
    total += static_cast<size_t>(n);
    for (size_t left = static_cast<size_t>(n); left > 0 && first < iov.size();) {
      size_t step = std::min(left, iov[first].iov_len);
      iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + step;
      iov[first].iov_len -= step;
      left -= step;
      if (iov[first].iov_len == 0) ++first;
    }
  }
  return total;
}

}  // namespace

Result<size_t> PreadAll(int fd, std::span<const iovec> iov, uint64_t offset) {
  return TransferAll(
      iov, offset, [fd](const iovec* v, int n, off_t at) { return ::preadv(fd, v, n, at); },
      "preadv");
}

Result<size_t> PwriteAll(int fd, std::span<const iovec> iov, uint64_t offset) {
  return TransferAll(
      iov, offset, [fd](const iovec* v, int n, off_t at) { return ::pwritev(fd, v, n, at); },
      "pwritev");
}

}  // namespace ferry
