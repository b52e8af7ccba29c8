#include "migration/disk_sender.h"

#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/clock.h"
#include "migration/disk_chunks.h"

namespace ferry::migration {
namespace {

constexpr uint64_t kRunChunks = 64;  // at most 4 MiB a section with 64 KiB chunks

// How many chunks a bitmap (one bit a chunk) names.
uint64_t CountChunks(const std::vector<uint64_t>& bitmap) {
  uint64_t n = 0;
  for (uint64_t w : bitmap) n += static_cast<uint64_t>(__builtin_popcountll(w));
  return n;
}

std::array<uint8_t, 16> NewSessionId() {
  std::array<uint8_t, 16> id{};
  size_t got = 0;
  while (got < id.size()) {
    ssize_t n = ::getrandom(id.data() + got, id.size() - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  return id;
}

bool IsZero(const uint8_t* data, size_t length) {
  // Word-wise: a 64 KiB chunk of zeros is checked at memory speed.
  size_t words = length / 8;
  const uint64_t* w = reinterpret_cast<const uint64_t*>(data);
  uint64_t acc = 0;
  for (size_t i = 0; i < words; ++i) {
    acc |= w[i];
    if ((i & 63) == 63 && acc != 0) return false;
  }
  for (size_t i = words * 8; i < length; ++i) acc |= data[i];
  return acc == 0;
}

bool TestBit(const std::vector<uint64_t>& bits, uint64_t i) {
  return i / 64 < bits.size() && ((bits[i / 64] >> (i % 64)) & 1);
}

// Calls f(first, count) for each run of set bits below `limit`, runs cut at `max_run`.
template <typename F>
Status ForEachRun(const std::vector<uint64_t>& bits, uint64_t limit, uint64_t max_run, F&& f) {
  uint64_t i = 0;
  while (i < limit) {
    if (bits[i / 64] == 0 && i % 64 == 0) {
      i += 64;
      continue;
    }
    if (!TestBit(bits, i)) {
      ++i;
      continue;
    }
    uint64_t first = i;
    while (i < limit && i - first < max_run && TestBit(bits, i)) ++i;
    RETURN_IF_ERROR(f(first, i - first));
  }
  return OkStatus();
}

}  // namespace

DiskSender::DiskSender(std::vector<MigratableDisk*> disks, bool copy, state::SectionWriter& writer,
                       AfterBatch after_batch)
    : copy_(copy), writer_(writer), after_batch_(std::move(after_batch)) {
  for (MigratableDisk* d : disks) {
    disks_.push_back({d, nullptr, {}, true});
    DiskReport r;
    r.path = d->path();
    r.mode = copy ? "copy" : "shared";
    r.size_bytes = d->size_bytes();
    reports_.push_back(r);
  }
}

std::vector<state::DiskPlanEntry> DiskSender::Plan() {
  std::vector<state::DiskPlanEntry> plan;
  for (Disk& d : disks_) {
    state::DiskPlanEntry e;
    e.size_bytes = d.disk->size_bytes();
    e.readonly = d.disk->readonly();
    e.source_path = d.disk->path();
    if (copy_) {
      e.mode = state::DiskMode::kCopy;
      d.session = d.disk->copy_session();
      if (!d.session || d.session->log.disk_bytes() != e.size_bytes) {
        d.session =
            std::make_shared<DiskCopySession>(NewSessionId(), e.size_bytes, kDefaultChunkBytes);
        d.disk->set_copy_session(d.session);
      }
      e.chunk_bytes = d.session->log.chunk_bytes();
      e.session = d.session->id;
    }
    plan.push_back(e);
  }
  return plan;
}

Status DiskSender::ApplyResume(const std::vector<state::DiskResumeEntry>& answers) {
  if (!copying()) return OkStatus();
  if (answers.size() != disks_.size()) {
    return Error(ErrorCode::kCorrupt, "the destination answered for the wrong number of disks");
  }
  for (size_t i = 0; i < disks_.size(); ++i) {
    Disk& d = disks_[i];
    BlockWriteLog& log = d.session->log;
    // The bulk pass covers everything written so far: what the log holds now
    // is part of it, and a write from here on shows up in a dirty pass.
    (void)log.Collect();
    std::vector<uint64_t> written = log.WrittenSinceStart();
    const std::vector<uint64_t>& present = answers[i].present;
    d.target_zeroed = answers[i].target_zeroed;
    d.todo.assign((log.chunks() + 63) / 64, ~uint64_t{0});
    uint64_t resumed = 0;
    for (size_t w = 0; w < d.todo.size(); ++w) {
      uint64_t have = w < present.size() ? present[w] & ~written[w] : 0;
      d.todo[w] &= ~have;
      resumed += static_cast<uint64_t>(__builtin_popcountll(have));
    }
    if (log.chunks() % 64 != 0) d.todo.back() &= (uint64_t{1} << (log.chunks() % 64)) - 1;
    bulk_bytes_left_ += std::min(CountChunks(d.todo) * log.chunk_bytes(), log.disk_bytes());
    reports_[i].chunks_resumed = resumed;
    reports_[i].resumed = resumed > 0;
  }
  return OkStatus();
}

Status DiskSender::SendRun(size_t index, uint64_t first, uint64_t count, bool zeros_elided) {
  Disk& d = disks_[index];
  DiskReport& report = reports_[index];
  const BlockWriteLog& log = d.session->log;
  uint64_t chunk_bytes = log.chunk_bytes();
  uint64_t disk_bytes = log.disk_bytes();
  uint64_t start = first * chunk_bytes;
  uint64_t end = std::min(disk_bytes, (first + count) * chunk_bytes);
  // Holes need no reading: everything before the next data is zero.
  off_t data = ::lseek(d.disk->image_fd(), static_cast<off_t>(start), SEEK_DATA);
  uint64_t data_at = data < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(data), end);
  uint64_t read_from = std::max(start, data_at / chunk_bytes * chunk_bytes);
  if (read_from < end) {
    buffer_.resize(end - read_from);
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::pread(d.disk->image_fd(), buffer_.data() + done, buffer_.size() - done,
                          static_cast<off_t>(read_from + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("reading disk image " + d.disk->path());
      if (n == 0)
        return Error(ErrorCode::kFailedPrecondition, "disk image " + d.disk->path() + " shrank");
      done += static_cast<size_t>(n);
    }
  }
  ChunkBatch batch(static_cast<uint16_t>(index));
  for (uint64_t c = first; c < first + count; ++c) {
    uint64_t at = c * chunk_bytes;
    uint64_t length = ChunkLength(c, disk_bytes, log.chunk_bytes());
    bool zero = at < read_from;
    const uint8_t* bytes = zero ? nullptr : buffer_.data() + (at - read_from);
    if (!zero) zero = IsZero(bytes, length);
    if (zero) {
      ++report.chunks_zero;
      if (!zeros_elided) batch.AddZero(c);
    } else {
      ++report.chunks_data;
      report.bytes_sent += length;
      batch.AddData(c, bytes, length);
    }
  }
  if (batch.empty()) return OkStatus();
  RETURN_IF_ERROR(batch.Flush(writer_));
  return after_batch_();
}

Status DiskSender::BulkPass() {
  if (!copying()) return OkStatus();
  for (size_t i = 0; i < disks_.size(); ++i) {
    int64_t start = MonotonicNs();
    Disk& d = disks_[i];
    RETURN_IF_ERROR(ForEachRun(
        d.todo, d.session->log.chunks(), kRunChunks, [&](uint64_t first, uint64_t count) {
          // Counted before the run goes, so that the report after its batch is current.
          bulk_bytes_left_ -= std::min(bulk_bytes_left_, count * d.session->log.chunk_bytes());
          return SendRun(i, first, count, d.target_zeroed);
        }));
    reports_[i].bulk_ms = NsToMs(MonotonicNs() - start);
  }
  return OkStatus();
}

Result<uint64_t> DiskSender::DirtyPass(bool paused) {
  if (!copying()) return uint64_t{0};
  uint64_t sent = 0;
  for (size_t i = 0; i < disks_.size(); ++i) {
    std::vector<uint64_t> dirty = disks_[i].session->log.Collect();
    uint64_t chunks = CountChunks(dirty);
    RETURN_IF_ERROR(ForEachRun(
        dirty, disks_[i].session->log.chunks(), kRunChunks,
        [&](uint64_t first, uint64_t count) { return SendRun(i, first, count, false); }));
    reports_[i].dirty_chunks += chunks;
    if (paused) reports_[i].final_chunks += chunks;
    sent += chunks;
  }
  return sent;
}

uint64_t DiskSender::PendingBytes() const {
  if (!copying()) return 0;
  uint64_t bytes = 0;
  for (const Disk& d : disks_)
    bytes += d.session->log.PendingCount() * d.session->log.chunk_bytes();
  return bytes;
}

}  // namespace ferry::migration
