#include "devices/virtio/virtqueue.h"

#include <atomic>
#include <cstdio>
#include <cstring>

#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

// Indirect tables larger than this are refused: no driver needs more, and
// the walk stays bounded however large a length the driver writes.
constexpr uint32_t kMaxIndirectDescriptors = 4096;

struct Descriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "virtqueue: " + what);
}

std::string Hex(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace

void Virtqueue::Reset() {
  state_ = QueueState{};
  state_.size = max_size_;
  event_idx_ = false;
}

Status Virtqueue::Validate(const GuestMemory& memory) const {
  const QueueState& q = state_;
  if (q.size == 0 || q.size > max_size_ || (q.size & (q.size - 1)) != 0) {
    return Bad("size " + std::to_string(q.size) + " is not a power of two up to " +
               std::to_string(max_size_));
  }
  if (q.desc_addr % 16 != 0 || q.avail_addr % 2 != 0 || q.used_addr % 4 != 0) {
    return Bad("ring addresses are misaligned");
  }
  uint64_t size = q.size;
  if (!memory.Translate(q.desc_addr, 16 * size).ok() ||
      !memory.Translate(q.avail_addr, 6 + 2 * size).ok() ||
      !memory.Translate(q.used_addr, 6 + 8 * size).ok()) {
    return Bad("a ring lies outside guest RAM");
  }
  return OkStatus();
}

Status Virtqueue::ValidateRestored(const GuestMemory& memory) const {
  if (state_.size > max_size_) return Bad("restored size exceeds the maximum");
  if (!state_.enabled) return OkStatus();
  return Validate(memory);
}

Result<uint16_t> Virtqueue::ReadU16(const GuestMemory& memory, uint64_t gpa) const {
  ASSIGN_OR_RETURN(uint8_t * host, memory.Translate(gpa, 2));
  // The driver writes these concurrently: one aligned load, ordered before
  // any read that depends on it.
  return __atomic_load_n(reinterpret_cast<uint16_t*>(host), __ATOMIC_ACQUIRE);
}

Status Virtqueue::WalkChain(const GuestMemory& memory, uint16_t head,
                            DescriptorChain& chain) const {
  uint64_t table = state_.desc_addr;
  uint32_t count = state_.size;
  uint32_t index = head;
  uint32_t visited = 0;
  bool indirect = false;
  for (;;) {
    if (index >= count) return Bad("descriptor index " + std::to_string(index) + " out of range");
    if (++visited > count) return Bad("descriptor chain loops or outgrows its table");
    Descriptor d;
    ASSIGN_OR_RETURN(uint8_t * at, memory.Translate(table + 16 * uint64_t{index}, 16));
    std::memcpy(&d, at, sizeof d);
    if (d.flags & virtio::kDescIndirect) {
      if (indirect) return Bad("an indirect table points to another one");
      if (d.flags & virtio::kDescNext) return Bad("descriptor has both INDIRECT and NEXT");
      if (d.len == 0 || d.len % 16 != 0 || d.len / 16 > kMaxIndirectDescriptors) {
        return Bad("indirect table of " + std::to_string(d.len) + " bytes");
      }
      if (!memory.Translate(d.addr, d.len).ok()) {
        return Bad("indirect table at " + Hex(d.addr) + " is outside guest RAM");
      }
      table = d.addr;
      count = d.len / 16;
      index = 0;
      visited = 0;
      indirect = true;
      continue;
    }
    if (!memory.Translate(d.addr, d.len).ok()) {
      return Bad("buffer " + Hex(d.addr) + "+" + Hex(d.len) + " is outside guest RAM");
    }
    if (d.flags & virtio::kDescWrite) {
      chain.writable.push_back({d.addr, d.len});
      chain.writable_bytes += d.len;
    } else {
      if (!chain.writable.empty()) return Bad("a readable buffer follows a writable one");
      chain.readable.push_back({d.addr, d.len});
      chain.readable_bytes += d.len;
    }
    if (!(d.flags & virtio::kDescNext)) return OkStatus();
    index = d.next;
  }
}

Result<std::optional<DescriptorChain>> Virtqueue::Pop(const GuestMemory& memory) {
  QueueState& q = state_;
  ASSIGN_OR_RETURN(uint16_t avail_idx, ReadU16(memory, q.avail_addr + 2));
  if (avail_idx == q.last_avail_idx) return std::optional<DescriptorChain>();
  if (static_cast<uint16_t>(avail_idx - q.last_avail_idx) > q.size) {
    return Bad("the driver made " + std::to_string(uint16_t(avail_idx - q.last_avail_idx)) +
               " buffers available in a queue of " + std::to_string(q.size));
  }
  uint64_t slot = q.avail_addr + 4 + 2 * uint64_t{static_cast<uint16_t>(q.last_avail_idx % q.size)};
  ASSIGN_OR_RETURN(uint16_t head, ReadU16(memory, slot));
  DescriptorChain chain;
  chain.head = head;
  RETURN_IF_ERROR(WalkChain(memory, head, chain));
  ++q.last_avail_idx;
  return std::optional<DescriptorChain>(std::move(chain));
}

Status Virtqueue::PushUsed(GuestMemory& memory, uint16_t head, uint32_t written) {
  QueueState& q = state_;
  uint32_t elem[2] = {head, written};
  uint64_t slot = q.used_addr + 4 + 8 * uint64_t{static_cast<uint16_t>(q.used_idx % q.size)};
  RETURN_IF_ERROR(memory.Write(slot, {reinterpret_cast<const uint8_t*>(elem), sizeof elem}));
  // The element must be visible before the index that publishes it.
  std::atomic_thread_fence(std::memory_order_release);
  uint16_t next = static_cast<uint16_t>(q.used_idx + 1);
  RETURN_IF_ERROR(memory.Write(q.used_addr + 2, {reinterpret_cast<const uint8_t*>(&next), 2}));
  q.used_idx = next;
  return OkStatus();
}

Result<bool> Virtqueue::ShouldNotify(const GuestMemory& memory) {
  QueueState& q = state_;
  // The used index store must be visible before we read what the driver
  // asked for (a store-load order: a full fence).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!event_idx_) {
    ASSIGN_OR_RETURN(uint16_t flags, ReadU16(memory, q.avail_addr));
    return (flags & virtio::kAvailNoInterrupt) == 0;
  }
  ASSIGN_OR_RETURN(uint16_t used_event, ReadU16(memory, q.avail_addr + 4 + 2 * uint64_t{q.size}));
  uint16_t old = q.signalled_used;
  bool valid = q.signalled_valid != 0;
  q.signalled_used = q.used_idx;
  q.signalled_valid = 1;
  if (!valid) return true;
  // vring_need_event: notify when used_event lies in (old, new].
  return static_cast<uint16_t>(q.used_idx - used_event - 1) <
         static_cast<uint16_t>(q.used_idx - old);
}

Result<bool> Virtqueue::ArmNotification(GuestMemory& memory) {
  QueueState& q = state_;
  if (!event_idx_) return false;
  uint16_t event = q.last_avail_idx;
  RETURN_IF_ERROR(memory.Write(q.used_addr + 4 + 8 * uint64_t{q.size},
                               {reinterpret_cast<const uint8_t*>(&event), 2}));
  std::atomic_thread_fence(std::memory_order_seq_cst);
  ASSIGN_OR_RETURN(uint16_t avail_idx, ReadU16(memory, q.avail_addr + 2));
  return avail_idx != q.last_avail_idx;
}

}  // namespace ferry
