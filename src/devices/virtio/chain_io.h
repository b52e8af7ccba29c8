// Byte-level views of a descriptor chain's buffers: cut a sub-range out of a
// list of guest ranges, copy device-readable bytes out, get host iovecs.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "machine/guest_memory.h"

namespace ferry {

// The guest ranges covering bytes [offset, offset+len) of `ranges` taken as
// one stream (shorter when the ranges end first).
std::vector<GuestRange> SliceRanges(std::span<const GuestRange> ranges, uint64_t offset,
                                    uint64_t len);
uint64_t TotalBytes(std::span<const GuestRange> ranges);

// Copies the first out.size() bytes of `ranges` (device-readable buffers).
Status CopyFromGuest(const GuestMemory& memory, std::span<const GuestRange> ranges,
                     std::span<uint8_t> out);
// Host iovecs for reading the device-readable `ranges` in place.
Result<std::vector<iovec>> ReadableIovecs(const GuestMemory& memory,
                                          std::span<const GuestRange> ranges);

// preadv/pwritev of every byte of `iov` at `offset`, across partial
// transfers, EINTR and IOV_MAX; returns the bytes moved (less only at EOF).
Result<size_t> PreadAll(int fd, std::span<const iovec> iov, uint64_t offset);
Result<size_t> PwriteAll(int fd, std::span<const iovec> iov, uint64_t offset);

}  // namespace ferry
