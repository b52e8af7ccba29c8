// The guest's RAM: one host mapping, presented to KVM as up to two slots around
// the 32-bit MMIO hole. Every access by guest-physical address is bounds-checked.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "base/mapping.h"
#include "base/result.h"
#include "kvm/vm.h"
#include "machine/vmm_dirty_log.h"

namespace ferry {

// A guest-physical range, e.g. one buffer of a virtio descriptor chain.
struct GuestRange {
  uint64_t gpa;
  uint32_t len;
};

struct MemoryRegion {
  uint64_t guest_addr;
  uint64_t size;
  uint8_t* host;
};

class GuestMemory {
 public:
  // Reserves `ram_bytes` (a multiple of 2 MiB, at least 16 MiB) without committing it.
  // Refuses more than the host has: a guest that can never be backed is a mistake.
  static Result<GuestMemory> Create(uint64_t ram_bytes);
  // Maps a memory image (a snapshot's sparse memory file) copy-on-write: the
  // guest starts at once and reads pages from the file as it touches them; its
  // writes never reach the file, so one snapshot restores any number of times.
  static Result<GuestMemory> FromFile(int fd, uint64_t ram_bytes);

  // True when untouched pages are known to be zero (not backed by a file).
  bool anonymous() const { return anonymous_; }
  // The whole RAM as one host range; RAM offset = position in this range.
  uint8_t* host_base() const { return mapping_.data(); }

  uint64_t ram_bytes() const { return ram_bytes_; }
  const std::vector<MemoryRegion>& regions() const { return regions_; }

  // A host pointer for [gpa, gpa+len), which must lie within one RAM region.
  Result<uint8_t*> Translate(uint64_t gpa, uint64_t len) const;
  // Every write the VMM makes into guest RAM goes through Write, Fill or
  // WriteWith, which mark the pages in the VMM dirty log afterwards (a
  // migration must resend them: KVM's log does not see VMM writes).
  Status Write(uint64_t gpa, std::span<const uint8_t> bytes);
  Status Fill(uint64_t gpa, uint8_t value, uint64_t len);
  template <typename T>
  Status WriteObject(uint64_t gpa, const T& object) {
    return Write(gpa, {reinterpret_cast<const uint8_t*>(&object), sizeof(T)});
  }

  // Lets `fill` write into `ranges` in place (e.g. preadv straight into guest
  // buffers): it gets their host iovecs and returns how many bytes it wrote
  // from the start; exactly those are marked dirty. Checks every range first.
  using FillFn = std::function<Result<size_t>(std::span<const iovec>)>;
  Result<size_t> WriteWith(std::span<const GuestRange> ranges, const FillFn& fill);
  // Records that [gpa, gpa+len) was written by the VMM (no-op unless tracking).
  void MarkDirty(uint64_t gpa, uint64_t len) const;
  // The VMM's own dirty log; migration's DirtyTracker merges it with KVM's.
  VmmDirtyLog& vmm_dirty_log() const { return *vmm_dirty_; }

  // Registers every region with KVM as slots 0..n-1 with the given flags.
  Status RegisterWith(Vm& vm, uint32_t flags) const;

 private:
  GuestMemory(Mapping mapping, uint64_t ram_bytes, bool anonymous);
  static Status CheckSize(uint64_t ram_bytes);
  Mapping mapping_;
  bool anonymous_;
  uint64_t ram_bytes_;
  std::vector<MemoryRegion> regions_;
  std::unique_ptr<VmmDirtyLog> vmm_dirty_;  // behind a pointer: atomics do not move
};

// Total RAM of this host from /proc/meminfo, in bytes.
Result<uint64_t> HostMemoryBytes();

}  // namespace ferry
