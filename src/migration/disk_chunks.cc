#include "migration/disk_chunks.h"

#include <algorithm>

namespace ferry::migration {

uint64_t ChunkLength(uint64_t chunk, uint64_t disk_bytes, uint32_t chunk_bytes) {
  uint64_t start = chunk * chunk_bytes;
  if (start >= disk_bytes) return 0;
  return std::min<uint64_t>(chunk_bytes, disk_bytes - start);
}

void ChunkBatch::AddData(uint64_t chunk, const uint8_t* data, size_t length) {
  entries_.push_back(chunk << 8 | static_cast<uint8_t>(ChunkEncoding::kData));
  data_.push_back({const_cast<uint8_t*>(data), length});
}

void ChunkBatch::AddZero(uint64_t chunk) {
  entries_.push_back(chunk << 8 | static_cast<uint8_t>(ChunkEncoding::kZero));
}

Status ChunkBatch::Flush(state::SectionWriter& writer) {
  if (entries_.empty()) return OkStatus();
  uint32_t head[2] = {static_cast<uint32_t>(entries_.size()), 0};
  std::vector<iovec> pieces;
  pieces.reserve(data_.size() + 2);
  pieces.push_back({head, sizeof head});
  pieces.push_back({entries_.data(), entries_.size() * sizeof(uint64_t)});
  pieces.insert(pieces.end(), data_.begin(), data_.end());
  Status written = writer.WriteGather(state::SectionType::kDiskChunks, disk_, pieces);
  entries_.clear();
  data_.clear();
  return written;
}

Result<ReceivedChunks> ReadChunkBatch(state::SectionReader& reader, uint64_t length,
                                      uint64_t disk_bytes, uint32_t chunk_bytes) {
  auto corrupt = [](const std::string& what) {
    return Error(ErrorCode::kCorrupt, "section 'disk-chunks' " + what);
  };
  uint32_t head[2];
  if (length < sizeof head) return corrupt("is too short");
  RETURN_IF_ERROR(reader.ReadPiece({reinterpret_cast<uint8_t*>(head), sizeof head}));
  uint32_t count = head[0];
  if (head[1] != 0 || count == 0 || count > (length - 8) / 8) return corrupt("has a bad count");
  std::vector<uint64_t> entries(count);
  RETURN_IF_ERROR(reader.ReadPiece({reinterpret_cast<uint8_t*>(entries.data()), count * 8ull}));
  ReceivedChunks out;
  uint64_t data_bytes = 0;
  uint64_t chunks = (disk_bytes + chunk_bytes - 1) / chunk_bytes;
  for (uint32_t i = 0; i < count; ++i) {
    uint64_t chunk = entries[i] >> 8;
    uint8_t encoding = static_cast<uint8_t>(entries[i] & 0xff);
    if (chunk >= chunks || encoding > static_cast<uint8_t>(ChunkEncoding::kZero)) {
      return corrupt("record " + std::to_string(i) +
                     " names a chunk or encoding that does not exist");
    }
    if (encoding == static_cast<uint8_t>(ChunkEncoding::kData)) {
      out.data_chunks.push_back(chunk);
      data_bytes += ChunkLength(chunk, disk_bytes, chunk_bytes);
    } else {
      out.zero_chunks.push_back(chunk);
    }
  }
  if (length - 8 - count * 8ull != data_bytes) {
    return corrupt("payload size does not match its records");
  }
  out.data.resize(data_bytes);
  RETURN_IF_ERROR(reader.ReadPiece(out.data));
  RETURN_IF_ERROR(reader.Finish());
  return out;
}

}  // namespace ferry::migration
