#include "state/memory_image.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ferry::state {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kChunk = 2ull << 20;  // mincore and write granularity

Status WriteAt(int fd, const uint8_t* data, uint64_t len, uint64_t offset) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, data, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("writing the memory image");
    }
    data += n;
    len -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return OkStatus();
}

}  // namespace

bool IsZeroPage(const uint8_t* page) {
  const auto* words = reinterpret_cast<const uint64_t*>(page);
  for (size_t i = 0; i < kPage / 8; i += 8) {
    uint64_t any = words[i] | words[i + 1] | words[i + 2] | words[i + 3] | words[i + 4] |
                   words[i + 5] | words[i + 6] | words[i + 7];
    if (any != 0) return false;
  }
  return true;
}

Status ScanDataRuns(const GuestMemory& memory,
                    const std::function<Status(uint64_t offset, uint64_t length)>& on_run,
                    MemoryImageStats* stats) {
  const uint8_t* base = memory.host_base();
  const uint64_t total = memory.ram_bytes();
  std::vector<unsigned char> resident(kChunk / kPage);
  uint64_t run_start = 0, run_len = 0;
  for (uint64_t chunk = 0; chunk < total; chunk += kChunk) {
    uint64_t len = std::min(kChunk, total - chunk);
    // Anonymous pages the guest never touched are not resident and are zero.
    bool know_residency = memory.anonymous() &&
                          ::mincore(const_cast<uint8_t*>(base + chunk), len, resident.data()) == 0;
    for (uint64_t p = 0; p < len / kPage; ++p) {
      uint64_t offset = chunk + p * kPage;
      bool data = (!know_residency || (resident[p] & 1)) && !IsZeroPage(base + offset);
      if (data) {
        if (run_len == 0) run_start = offset;
        run_len += kPage;
        ++stats->pages_data;
        continue;
      }
      ++stats->pages_zero;
      if (run_len > 0) RETURN_IF_ERROR(on_run(run_start, run_len));
      run_len = 0;
    }
  }
  if (run_len > 0) RETURN_IF_ERROR(on_run(run_start, run_len));
  return OkStatus();
}

Result<MemoryImageStats> WriteMemoryImage(int fd, const GuestMemory& memory) {
  MemoryImageStats stats;
  const uint8_t* base = memory.host_base();
  RETURN_IF_ERROR(ScanDataRuns(
      memory,
      [&](uint64_t offset, uint64_t length) { return WriteAt(fd, base + offset, length, offset); },
      &stats));
  if (::ftruncate(fd, static_cast<off_t>(memory.ram_bytes())) < 0) {
    return ErrnoError("sizing the memory image");
  }
  return stats;
}

}  // namespace ferry::state
