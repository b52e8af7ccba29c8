#include "machine/guest_memory.h"

#include <sys/mman.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "base/units.h"
#include "machine/layout.h"

namespace ferry {

Result<uint64_t> HostMemoryBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib * kKiB;
  }
  return Error(ErrorCode::kInternal, "cannot read MemTotal from /proc/meminfo");
}

Status GuestMemory::CheckSize(uint64_t ram_bytes) {
  constexpr uint64_t kMinimum = 16 * kMiB;
  constexpr uint64_t kGranule = 2 * kMiB;
  if (ram_bytes < kMinimum) {
    return Error(ErrorCode::kInvalidArgument,
                 "--memory " + FormatSize(ram_bytes) + " is too small: give at least 16M");
  }
  if (ram_bytes % kGranule != 0) {
    return Error(ErrorCode::kInvalidArgument,
                 "--memory " + FormatSize(ram_bytes) + " is not a multiple of 2 MiB");
  }
  ASSIGN_OR_RETURN(uint64_t host_bytes, HostMemoryBytes());
  if (ram_bytes > host_bytes) {
    return Error(ErrorCode::kResourceExhausted,
                 "--memory " + FormatSize(ram_bytes) + " is more than this host's " +
                     FormatSize(host_bytes) + " of RAM: ask for less");
  }
  return OkStatus();
}

GuestMemory::GuestMemory(Mapping mapping, uint64_t ram_bytes, bool anonymous)
    : mapping_(std::move(mapping)),
      anonymous_(anonymous),
      ram_bytes_(ram_bytes),
      vmm_dirty_(std::make_unique<VmmDirtyLog>(ram_bytes)) {
  // Guest RAM is never worth putting in a core dump.
  ::madvise(mapping_.data(), ram_bytes, MADV_DONTDUMP);
  uint64_t low = std::min(ram_bytes, layout::kMmioHoleStart);
  regions_.push_back({0, low, mapping_.data()});
  if (ram_bytes > low) {
    regions_.push_back({layout::kMmioHoleEnd, ram_bytes - low, mapping_.data() + low});
  }
}

Result<GuestMemory> GuestMemory::Create(uint64_t ram_bytes) {
  RETURN_IF_ERROR(CheckSize(ram_bytes));
  ASSIGN_OR_RETURN(Mapping mapping, Mapping::Anonymous(ram_bytes));
  // Transparent huge pages, as QEMU and Cloud Hypervisor ask for: a fault
  // maps 2 MiB instead of 4 KiB. A migration destination writes every page
  // of a fresh VM; in a nested VM like this machine's each 4 KiB fault cost
  // ~5 us and the receiver managed 350 MiB/s, with THP 2.5 GiB/s
  // (bench/migration_engine_bench.cc). Fewer, larger TLB entries help the
  // guest too. Hosts with THP "never" just ignore it.
  ::madvise(mapping.data(), ram_bytes, MADV_HUGEPAGE);
  return GuestMemory(std::move(mapping), ram_bytes, true);
}

Result<GuestMemory> GuestMemory::FromFile(int fd, uint64_t ram_bytes) {
  RETURN_IF_ERROR(CheckSize(ram_bytes));
  ASSIGN_OR_RETURN(Mapping mapping, Mapping::File(fd, ram_bytes, 0, PROT_READ | PROT_WRITE,
                                                  MAP_PRIVATE | MAP_NORESERVE));
  return GuestMemory(std::move(mapping), ram_bytes, false);
}

Result<uint8_t*> GuestMemory::Translate(uint64_t gpa, uint64_t len) const {
  for (const MemoryRegion& region : regions_) {
    if (gpa >= region.guest_addr && gpa - region.guest_addr <= region.size &&
        len <= region.size - (gpa - region.guest_addr)) {
      return region.host + (gpa - region.guest_addr);
    }
  }
  char buf[96];
  std::snprintf(buf, sizeof buf, "guest range 0x%llx+0x%llx is not RAM",
                static_cast<unsigned long long>(gpa), static_cast<unsigned long long>(len));
  return Error(ErrorCode::kInvalidArgument, buf);
}

Status GuestMemory::Write(uint64_t gpa, std::span<const uint8_t> bytes) {
  ASSIGN_OR_RETURN(uint8_t * host, Translate(gpa, bytes.size()));
  std::memcpy(host, bytes.data(), bytes.size());
  MarkDirty(gpa, bytes.size());
  return OkStatus();
}

Status GuestMemory::Fill(uint64_t gpa, uint8_t value, uint64_t len) {
  ASSIGN_OR_RETURN(uint8_t * host, Translate(gpa, len));
  std::memset(host, value, len);
  MarkDirty(gpa, len);
  return OkStatus();
}

Result<size_t> GuestMemory::WriteWith(std::span<const GuestRange> ranges, const FillFn& fill) {
  std::vector<iovec> iov;
  iov.reserve(ranges.size());
  for (const GuestRange& range : ranges) {
    ASSIGN_OR_RETURN(uint8_t * host, Translate(range.gpa, range.len));
    iov.push_back({host, range.len});
  }
  ASSIGN_OR_RETURN(size_t written, fill(iov));
  size_t left = written;
  for (const GuestRange& range : ranges) {
    if (left == 0) break;
    uint64_t n = std::min<uint64_t>(left, range.len);
    MarkDirty(range.gpa, n);
    left -= n;
  }
  return written;
}

void GuestMemory::MarkDirty(uint64_t gpa, uint64_t len) const {
  if (!vmm_dirty_->active()) return;
  for (const MemoryRegion& region : regions_) {
    if (gpa >= region.guest_addr && gpa - region.guest_addr < region.size) {
      uint64_t offset =
          static_cast<uint64_t>(region.host - mapping_.data()) + (gpa - region.guest_addr);
      vmm_dirty_->Mark(offset, std::min(len, region.size - (gpa - region.guest_addr)));
      return;
    }
  }
}

Status GuestMemory::RegisterWith(Vm& vm, uint32_t flags) const {
  for (size_t slot = 0; slot < regions_.size(); ++slot) {
    const MemoryRegion& region = regions_[slot];
    RETURN_IF_ERROR(vm.SetUserMemoryRegion(static_cast<uint32_t>(slot), flags, region.guest_addr,
                                           region.size, region.host));
  }
  return OkStatus();
}

}  // namespace ferry
