// Guest pages on the wire: one 'pages' section carries a batch of page
// records. Payload: u32 count, u32 flags, count x u64 (page_index << 8 |
// encoding), then the 4 KiB payload of every normal page, in record order.
// A page index is the RAM offset / 4096 (docs/state-format.md).
//
// Flag kLiveData: the page data was read while the guest ran and is not in
// the section CRC (only count, flags and records are). The guest may rewrite
// a page between checksum and send; such a page is dirty and is sent again,
// checked, once the guest is paused. TCP's own checksum covers the transfer.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <vector>

#include "base/result.h"
#include "machine/guest_memory.h"
#include "state/stream.h"

namespace ferry::migration {

inline constexpr uint64_t kPageSize = 4096;

enum class PageEncoding : uint8_t { kNormal = 0, kZero = 1 };
inline constexpr uint32_t kPageBatchLiveData = 1;

// Collects page records that point straight into guest memory; writing them
// is one gathered write with no copy of the page data.
class PageBatch {
 public:
  explicit PageBatch(size_t max_pages);
  void AddNormal(uint64_t page_index, const uint8_t* data);
  void AddZero(uint64_t page_index);
  bool full() const { return entries_.size() >= max_pages_; }
  bool empty() const { return entries_.empty(); }
  // Live batches leave page data out of the CRC (see above).
  void set_live(bool live) { header_[1] = live ? kPageBatchLiveData : 0; }
  // Writes the batch as one section and empties it.
  Status Flush(state::SectionWriter& writer);

 private:
  size_t max_pages_;
  uint32_t header_[2] = {0, 0};
  std::vector<uint64_t> entries_;
  std::vector<iovec> payloads_;
};

struct AppliedPages {
  uint64_t normal = 0;
  uint64_t zero = 0;
};

// Reads the payload of a 'pages' section whose header `reader` just read,
// checking every record against the memory size before writing any page and
// writes page data straight into guest memory (no intermediate copy). The
// section CRC is checked at the end: on a mismatch the caller must discard
// the memory (a receiver never runs a VM whose stream failed).
Result<AppliedPages> ReceivePageBatch(state::SectionReader& reader, uint64_t length,
                                      GuestMemory& memory);

}  // namespace ferry::migration
