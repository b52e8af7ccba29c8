#include "image/vhdx_log.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "base/crc32c.h"
#include "base/endian.h"

namespace ferry::image::vhdx {
namespace {

constexpr uint64_t kSector = 4096;
constexpr size_t kHeaderBytes = 64;
constexpr size_t kDescriptorBytes = 32;

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "vhdx log: " + what);
}

// The log as a ring: entries may wrap from its end to its start.
class Ring {
 public:
  explicit Ring(std::span<const uint8_t> log) : log_(log) {}
  uint64_t size() const { return log_.size(); }
  std::vector<uint8_t> Bytes(uint64_t at, uint64_t length) const {
    std::vector<uint8_t> out(length);
    for (uint64_t done = 0; done < length;) {
      const uint64_t pos = (at + done) % log_.size();
      const uint64_t n = std::min(length - done, log_.size() - pos);
      std::memcpy(out.data() + done, log_.data() + pos, n);
      done += n;
    }
    return out;
  }

 private:
  std::span<const uint8_t> log_;
};

struct Descriptor {
  bool zero = false;
  uint64_t file_offset = 0;
  uint64_t zero_length = 0;
  uint8_t leading[8] = {};
  uint8_t trailing[4] = {};
};

struct Entry {
  uint64_t position = 0;  // within the log
  uint64_t length = 0;
  uint64_t tail = 0;
  uint64_t sequence = 0;
  uint64_t flushed_file_offset = 0;
  uint64_t last_file_offset = 0;
  std::vector<Descriptor> descriptors;
  std::vector<std::vector<uint8_t>> data;  // one 4084-byte payload per data descriptor
};

uint32_t EntryChecksum(std::vector<uint8_t> bytes) {
  std::memset(&bytes[4], 0, 4);
  return Crc32c(bytes);
}

// The entry at `position`, if it is a whole, valid entry of `log_guid`.
std::optional<Entry> ParseEntry(const Ring& ring, uint64_t position, const Guid& log_guid) {
  std::vector<uint8_t> head = ring.Bytes(position, kSector);
  if (std::memcmp(head.data(), "loge", 4) != 0) return std::nullopt;
  Entry e;
  e.position = position;
  e.length = LoadLE32(&head[8]);
  e.tail = LoadLE32(&head[12]);
  e.sequence = LoadLE64(&head[16]);
  const uint32_t count = LoadLE32(&head[24]);
  Guid guid;
  std::memcpy(guid.data(), &head[32], 16);
  e.flushed_file_offset = LoadLE64(&head[48]);
  e.last_file_offset = LoadLE64(&head[56]);
  if (guid != log_guid || e.sequence == 0 || e.length < kSector || e.length % kSector ||
      e.length > ring.size() || e.tail % kSector || e.tail >= ring.size()) {
    return std::nullopt;
  }
  const uint64_t descriptor_area =
      (kHeaderBytes + uint64_t(count) * kDescriptorBytes + kSector - 1) / kSector * kSector;
  if (descriptor_area > e.length) return std::nullopt;
  std::vector<uint8_t> bytes = ring.Bytes(position, e.length);
  if (LoadLE32(&bytes[4]) != EntryChecksum(bytes)) return std::nullopt;
  uint64_t next_data = descriptor_area;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* d = &bytes[kHeaderBytes + kDescriptorBytes * i];
    Descriptor desc;
    if (std::memcmp(d, "zero", 4) == 0) {
      desc.zero = true;
      desc.zero_length = LoadLE64(d + 8);
      desc.file_offset = LoadLE64(d + 16);
    } else if (std::memcmp(d, "desc", 4) == 0) {
      std::memcpy(desc.trailing, d + 4, 4);
      std::memcpy(desc.leading, d + 8, 8);
      desc.file_offset = LoadLE64(d + 16);
    } else {
      return std::nullopt;
    }
    if (LoadLE64(d + 24) != e.sequence || desc.file_offset % kSector ||
        desc.zero_length % kSector) {
      return std::nullopt;
    }
    if (!desc.zero) {
      if (next_data + kSector > e.length) return std::nullopt;
      const uint8_t* s = &bytes[next_data];
      if (std::memcmp(s, "data", 4) != 0 || LoadLE32(s + 4) != uint32_t(e.sequence >> 32) ||
          LoadLE32(s + kSector - 4) != uint32_t(e.sequence)) {
        return std::nullopt;
      }
      e.data.emplace_back(s + 8, s + kSector - 4);
      next_data += kSector;
    }
    e.descriptors.push_back(desc);
  }
  return e;
}

// The entries from `start` onwards with consecutive sequence numbers.
std::vector<Entry> SequenceFrom(const Ring& ring, const Entry& start, const Guid& log_guid) {
  std::vector<Entry> seq = {start};
  uint64_t used = start.length;
  while (used < ring.size()) {
    const Entry& last = seq.back();
    std::optional<Entry> next =
        ParseEntry(ring, (last.position + last.length) % ring.size(), log_guid);
    if (!next || next->sequence != last.sequence + 1 || used + next->length > ring.size()) break;
    used += next->length;
    seq.push_back(std::move(*next));
  }
  return seq;
}

}  // namespace

Result<LogOverlay> LogOverlay::Replay(std::span<const uint8_t> log, const Guid& log_guid,
                                      uint64_t file_size) {
  LogOverlay overlay;
  overlay.file_size_ = file_size;
  if (log.empty() || log.size() % kSector) return overlay;
  const Ring ring(log);
  // The active sequence: of the runs of consecutive entries that start where
  // their last entry's Tail says, the one that ends with the highest number.
  std::vector<Entry> active;
  for (uint64_t at = 0; at < ring.size(); at += kSector) {
    std::optional<Entry> start = ParseEntry(ring, at, log_guid);
    if (!start) continue;
    std::vector<Entry> seq = SequenceFrom(ring, *start, log_guid);
    if (seq.back().tail != at) continue;
    if (active.empty() || seq.back().sequence > active.back().sequence) active = std::move(seq);
  }
  if (active.empty()) return overlay;
  const Entry& head = active.back();
  if (file_size < head.flushed_file_offset) {
    return Corrupt("the file is " + std::to_string(file_size) + " bytes, shorter than the " +
                   std::to_string(head.flushed_file_offset) + " its log says were flushed");
  }
  for (const Entry& e : active) {
    size_t data = 0;
    for (const Descriptor& d : e.descriptors) {
      if (d.zero) {
        overlay.Zero(d.file_offset, d.zero_length);
        continue;
      }
      std::array<uint8_t, kSector> sector;
      std::memcpy(sector.data(), d.leading, 8);
      std::memcpy(sector.data() + 8, e.data[data].data(), kSector - 12);
      std::memcpy(sector.data() + kSector - 4, d.trailing, 4);
      overlay.Write(d.file_offset, sector);
      ++data;
    }
  }
  overlay.entries_ = active.size();
  overlay.sequence_ = head.sequence;
  overlay.file_size_ = std::max(file_size, head.last_file_offset);
  return overlay;
}

void LogOverlay::Zero(uint64_t offset, uint64_t length) {
  if (length == 0) return;
  const uint64_t end = offset + length;
  sectors_.erase(sectors_.lower_bound(offset), sectors_.lower_bound(end));
  zeros_.emplace_back(offset, end);
}

void LogOverlay::Write(uint64_t offset, std::array<uint8_t, kSector> data) {
  sectors_[offset] = data;
}

void LogOverlay::Apply(uint64_t offset, std::span<uint8_t> out) const {
  const uint64_t end = offset + out.size();
  for (auto [start, stop] : zeros_) {
    const uint64_t from = std::max(start, offset), to = std::min(stop, end);
    if (from < to) std::memset(out.data() + (from - offset), 0, to - from);
  }
  for (auto it = sectors_.lower_bound(offset - offset % kSector); it != sectors_.end(); ++it) {
    if (it->first >= end) break;
    const uint64_t from = std::max(it->first, offset), to = std::min(it->first + kSector, end);
    if (from < to)
      std::memcpy(out.data() + (from - offset), it->second.data() + (from - it->first), to - from);
  }
}

}  // namespace ferry::image::vhdx
