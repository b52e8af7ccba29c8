#include "migration/page_batch.h"

#include <cstring>

namespace ferry::migration {

PageBatch::PageBatch(size_t max_pages) : max_pages_(max_pages) {
  entries_.reserve(max_pages);
  payloads_.reserve(max_pages + 2);
}

void PageBatch::AddNormal(uint64_t page_index, const uint8_t* data) {
  entries_.push_back(page_index << 8 | static_cast<uint8_t>(PageEncoding::kNormal));
  payloads_.push_back({const_cast<uint8_t*>(data), kPageSize});
}

void PageBatch::AddZero(uint64_t page_index) {
  entries_.push_back(page_index << 8 | static_cast<uint8_t>(PageEncoding::kZero));
}

Status PageBatch::Flush(state::SectionWriter& writer) {
  if (entries_.empty()) return OkStatus();
  header_[0] = static_cast<uint32_t>(entries_.size());
  std::vector<iovec> pieces;
  pieces.reserve(payloads_.size() + 2);
  pieces.push_back({header_, sizeof header_});
  pieces.push_back({entries_.data(), entries_.size() * sizeof(uint64_t)});
  pieces.insert(pieces.end(), payloads_.begin(), payloads_.end());
  bool live = (header_[1] & kPageBatchLiveData) != 0;
  Status written = writer.WriteGather(state::SectionType::kPages, 0, pieces, live ? 2 : SIZE_MAX);
  entries_.clear();
  payloads_.clear();
  return written;
}

Result<AppliedPages> ReceivePageBatch(state::SectionReader& reader, uint64_t length,
                                      GuestMemory& memory) {
  uint32_t head[2];
  if (length < sizeof head) return Error(ErrorCode::kCorrupt, "section 'pages' is too short");
  RETURN_IF_ERROR(reader.ReadPiece({reinterpret_cast<uint8_t*>(head), sizeof head}));
  uint32_t count = head[0];
  if ((head[1] & ~kPageBatchLiveData) != 0 || count == 0 || count > (length - 8) / 8) {
    return Error(ErrorCode::kCorrupt, "section 'pages' has a bad record count");
  }
  std::vector<uint64_t> entries(count);
  RETURN_IF_ERROR(reader.ReadPiece({reinterpret_cast<uint8_t*>(entries.data()), count * 8ull}));
  uint64_t total_pages = memory.ram_bytes() / kPageSize;
  uint64_t normal = 0;
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t encoding = static_cast<uint8_t>(entries[i] & 0xff);
    if ((entries[i] >> 8) >= total_pages || encoding > static_cast<uint8_t>(PageEncoding::kZero)) {
      return Error(ErrorCode::kCorrupt, "section 'pages' record " + std::to_string(i) +
                                            " names a page or encoding that does not exist");
    }
    if (encoding == static_cast<uint8_t>(PageEncoding::kNormal)) ++normal;
  }
  if (length - 8 - count * 8ull != normal * kPageSize) {
    return Error(ErrorCode::kCorrupt, "section 'pages' payload size does not match its records");
  }
  AppliedPages applied;
  uint8_t* base = memory.host_base();
  std::vector<iovec> pages;
  pages.reserve(normal);
  for (uint64_t entry : entries) {
    uint8_t* page = base + (entry >> 8) * kPageSize;
    if ((entry & 0xff) == static_cast<uint8_t>(PageEncoding::kNormal)) {
      pages.push_back({page, kPageSize});
      ++applied.normal;
    } else {
      std::memset(page, 0, kPageSize);
      ++applied.zero;
    }
  }
  RETURN_IF_ERROR(reader.ReadPieces(pages, (head[1] & kPageBatchLiveData) == 0));
  RETURN_IF_ERROR(reader.Finish());
  return applied;
}

}  // namespace ferry::migration
