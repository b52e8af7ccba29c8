// Disk chunks on the wire (block migration): one 'disk-chunks' section,
// instance = disk index in the plan, carries a batch. Payload: u32 count,
// u32 flags (0), count x u64 (chunk_index << 8 | encoding), then the data of
// every data chunk in record order: chunk_bytes each, the disk's last chunk
// only up to the end of the disk. Unlike guest pages, chunk data is always in
// the CRC: the sender reads it into its own buffer before sending.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "base/result.h"
#include "state/stream.h"

namespace ferry::migration {

enum class ChunkEncoding : uint8_t { kData = 0, kZero = 1 };

// The bytes of `chunk` on a disk of `disk_bytes` cut into `chunk_bytes` pieces.
uint64_t ChunkLength(uint64_t chunk, uint64_t disk_bytes, uint32_t chunk_bytes);

class ChunkBatch {
 public:
  explicit ChunkBatch(uint16_t disk) : disk_(disk) {}
  // `data` must stay valid until Flush.
  void AddData(uint64_t chunk, const uint8_t* data, size_t length);
  void AddZero(uint64_t chunk);
  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  Status Flush(state::SectionWriter& writer);

 private:
  uint16_t disk_;
  std::vector<uint64_t> entries_;
  std::vector<iovec> data_;
};

// What a received batch asks the target to do, checked against the disk's
// geometry before anything is applied.
struct ReceivedChunks {
  std::vector<uint64_t> data_chunks;  // in order; their bytes are in `data`, back to back
  std::vector<uint64_t> zero_chunks;
  std::vector<uint8_t> data;
};

// Reads the payload of a 'disk-chunks' section whose header was just read;
// the CRC is checked before it returns, so nothing unchecked is ever applied.
Result<ReceivedChunks> ReadChunkBatch(state::SectionReader& reader, uint64_t length,
                                      uint64_t disk_bytes, uint32_t chunk_bytes);

}  // namespace ferry::migration
