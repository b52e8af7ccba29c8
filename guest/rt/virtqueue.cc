#include "rt/virtqueue.h"

#include "rt/arena.h"
#include "rt/exit.h"
#include "rt/x86.h"

namespace guest::virtio {
namespace {

constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;
constexpr uint16_t kAvailNoInterrupt = 1;
constexpr uint16_t kUsedNoNotify = 1;

// True when the other side's event index lies in [old_idx, new_idx): it asked to be told
// once one of the entries just published (or used) is reached (spec 2.7.10).
bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
  return static_cast<uint16_t>(new_idx - event - 1) < static_cast<uint16_t>(new_idx - old_idx);
}

}  // namespace

bool Virtqueue::setup(Transport& transport, uint16_t q, uint16_t wanted, bool event_idx) {
  uint16_t max = transport.queue_max_size(q);
  if (max == 0) return false;
  uint16_t size = kMaxSize;
  while (size > 1 && (size > max || size > wanted)) size >>= 1;
  transport_ = &transport;
  index_ = q;
  size_ = size;
  event_idx_ = event_idx;
  // Spec 2.7: alignment 16 for descriptors, 2 for avail, 4 for used; pages keep each
  // ring apart from everything else.
  desc_ = static_cast<Desc*>(arena::alloc(sizeof(Desc) * size, kPageSize));
  avail_ = static_cast<volatile uint16_t*>(arena::alloc(2 * (3 + size), kPageSize));
  used_ = static_cast<uint8_t*>(arena::alloc(6 + 8 * size, kPageSize));
  for (uint16_t i = 0; i < size; ++i) desc_[i].next = static_cast<uint16_t>(i + 1);
  free_head_ = 0;
  free_count_ = size;
  avail_flags() = event_idx ? 0 : kAvailNoInterrupt;  // with EVENT_IDX flags must be 0
  used_event() = static_cast<uint16_t>(last_used_ - 1);
  transport.queue_enable(q, size, arena::address_of(desc_),
                         arena::address_of(const_cast<uint16_t*>(avail_)),
                         arena::address_of(used_));
  return true;
}

bool Virtqueue::add(const Segment* segments, int n, uint64_t cookie) {
  if (n <= 0 || n > free_count_) return false;
  uint16_t head = free_head_;
  uint16_t i = head;
  for (int k = 0; k < n; ++k) {
    Desc& d = desc_[i];
    d.addr = segments[k].address;
    d.len = segments[k].length;
    d.flags = static_cast<uint16_t>((segments[k].device_writes ? kDescWrite : 0) |
                                    (k + 1 < n ? kDescNext : 0));
    if (k + 1 < n) i = d.next;
  }
  free_head_ = desc_[i].next;
  free_count_ = static_cast<uint16_t>(free_count_ - n);
  cookies_[head] = cookie;
  avail_[2 + (avail_shadow_ & (size_ - 1))] = head;
  ++avail_shadow_;
  return true;
}

void Virtqueue::kick() {
  if (avail_shadow_ == kicked_idx_) return;
  x86::compiler_barrier();  // descriptors and ring entries before the index
  avail_idx() = avail_shadow_;
  x86::mfence();  // the index before reading whether the device wants a notification
  uint16_t old = kicked_idx_;
  kicked_idx_ = avail_shadow_;
  ++kicks_;
  bool notify = event_idx_ ? need_event(avail_event(), avail_shadow_, old)
                           : (used_flags() & kUsedNoNotify) == 0;
  if (!notify) return;
  ++notifications_;
  transport_->notify(index_);
}

bool Virtqueue::poll(Used* out) {
  if (used_idx() == last_used_) return false;
  x86::compiler_barrier();  // the index before the entry (and the buffers) it covers
  volatile UsedElem& e = used_elem(last_used_ & (size_ - 1));
  uint32_t id = e.id;
  if (id >= size_) {  // the device's word is input like any other: check it
    fatal(kExitVerifyFailed, "%s queue %u: used ring names descriptor %u of %u",
          transport_->where(), index_, id, size_);
  }
  auto head = static_cast<uint16_t>(id);
  out->length = e.len;
  out->cookie = cookies_[head];
  ++last_used_;
  if (event_idx_) used_event() = static_cast<uint16_t>(last_used_ - 1);

  // Give the chain's descriptors back to the free list.
  uint16_t tail = head;
  uint16_t n = 1;
  while (desc_[tail].flags & kDescNext) {
    tail = desc_[tail].next;
    ++n;
  }
  desc_[tail].next = free_head_;
  free_head_ = head;
  free_count_ = static_cast<uint16_t>(free_count_ + n);
  return true;
}

}  // namespace guest::virtio
