#include "image/convert.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/crc32c.h"
#include "base/endian.h"

namespace ferry::image {
namespace {

struct Task {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool zero = false;  // write zeros (target not zeroed) instead of copying
};

uint64_t AlignDown(uint64_t v, uint64_t a) {
  return v / a * a;
}
uint64_t AlignUp(uint64_t v, uint64_t a) {
  return (v + a - 1) / a * a;
}

// Walks the source map once and turns it into copy tasks of whole units.
// Data ranges are widened to unit boundaries; what is left between them is
// zero and costs nothing (or a WriteZeroes when the target is not zeroed).
Result<std::vector<Task>> Plan(ImageReader& src, uint64_t unit, uint64_t chunk, bool zero_gaps,
                               bool allocate_all, uint64_t* zero_bytes) {
  const uint64_t size = src.virtual_size();
  std::vector<std::pair<uint64_t, uint64_t>> data;  // merged [start, end)
  for (uint64_t pos = 0; pos < size;) {
    ASSIGN_OR_RETURN(Extent e, src.Map(pos, size - pos));
    if (e.length == 0) return Error(ErrorCode::kInternal, "image map returned an empty extent");
    if (!e.zero || allocate_all) {
      uint64_t start = AlignDown(e.start, unit);
      uint64_t end = std::min(size, AlignUp(e.start + e.length, unit));
      if (!data.empty() && start <= data.back().second) {
        data.back().second = std::max(data.back().second, end);
      } else {
        data.emplace_back(start, end);
      }
    }
    pos = e.start + e.length;
  }
  std::vector<Task> tasks;
  uint64_t cursor = 0;
  *zero_bytes = 0;
  auto add_zero = [&](uint64_t start, uint64_t end) {
    if (end <= start) return;
    *zero_bytes += end - start;
    if (zero_gaps) tasks.push_back({start, end - start, true});
  };
  for (auto [start, end] : data) {
    add_zero(cursor, start);
    for (uint64_t pos = start; pos < end; pos += chunk) {
      tasks.push_back({pos, std::min(chunk, end - pos), false});
    }
    cursor = end;
  }
  add_zero(cursor, size);
  return tasks;
}

PlanInfo Describe(const std::vector<Task>& tasks) {
  PlanInfo info;
  info.tasks = tasks.size();
  for (const Task& t : tasks) {
    uint8_t b[17];
    StoreLE64(b, t.offset);
    StoreLE64(b + 8, t.length);
    b[16] = t.zero;
    info.digest = Crc32c(b, info.digest);
  }
  return info;
}

class Copier {
 public:
  Copier(ImageReader& src, ImageWriter& dst, const CopyOptions& o, uint64_t unit, uint64_t chunk,
         bool target_zero, std::vector<Task> tasks)
      : src_(src),
        dst_(dst),
        o_(o),
        unit_(unit),
        chunk_(chunk),
        target_zero_(target_zero),
        tasks_(std::move(tasks)) {}

  Status Run(CopyStats& stats, uint64_t already_done, size_t first_task) {
    done_ = already_done;
    next_ = first_task;
    turn_ = first_task;
    auto start = std::chrono::steady_clock::now();
    auto last_checkpoint = start;
    std::chrono::duration<double> tick = std::chrono::milliseconds(200);
    if (o_.resume.checkpoint)
      tick = std::min(tick, std::chrono::duration<double>(o_.resume.interval_seconds));
    int n = std::max(1, std::min<int>(o_.workers, int(tasks_.size() - first_task)));
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) threads.emplace_back([this] { Work(); });
    {
      std::unique_lock lock(mu_);
      while (finished_ < n) {
        cv_.wait_for(lock, tick);
        auto now = std::chrono::steady_clock::now();
        if (o_.resume.checkpoint && !failed_ &&
            std::chrono::duration<double>(now - last_checkpoint).count() >=
                o_.resume.interval_seconds) {
          Checkpoint(lock, n);
          last_checkpoint = std::chrono::steady_clock::now();
        }
        if (o_.progress) {
          std::chrono::duration<double> t = std::chrono::steady_clock::now() - start;
          CopyProgress p{done_.load(), src_.virtual_size(), t.count()};
          lock.unlock();
          o_.progress(p);
          lock.lock();
        }
      }
    }
    for (auto& t : threads) t.join();
    // A final checkpoint is not needed: the caller finishes the image next.
    stats.bytes_read = read_.load();
    stats.bytes_written = written_.load();
    stats.zero_bytes += skipped_.load();
    if (error_) return std::move(*error_);
    return OkStatus();
  }

 private:
  // Stops the workers between tasks, records the frontier (every task below
  // it is finished, none above it started) and lets them go on.
  void Checkpoint(std::unique_lock<std::mutex>& lock, int workers) {
    pause_ = true;
    cv_.wait(lock, [&] { return paused_ + finished_ == workers; });
    if (finished_ < workers && !failed_) {
      uint64_t frontier = std::min<uint64_t>(next_.load(), tasks_.size());
      lock.unlock();
      Status st = o_.resume.checkpoint(frontier);
      lock.lock();
      if (!st.ok()) {
        if (!error_) error_ = std::move(st).error();
        failed_ = true;
      }
    }
    pause_ = false;
    cv_.notify_all();
  }

  void Work() {
    std::vector<uint8_t> buf(chunk_);
    for (;;) {
      if (pause_.load()) {
        std::unique_lock lock(mu_);
        ++paused_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !pause_.load(); });
        --paused_;
      }
      size_t index = next_.fetch_add(1);
      if (index >= tasks_.size() || failed_.load()) break;
      Status st = DoTask(index, tasks_[index], buf);
      if (!st.ok()) {
        std::lock_guard lock(mu_);
        if (!error_) error_ = std::move(st).error();
        failed_ = true;
        cv_.notify_all();
        break;
      }
    }
    std::lock_guard lock(mu_);
    ++finished_;
    cv_.notify_all();
  }

  Status DoTask(size_t index, const Task& task, std::vector<uint8_t>& buf) {
    if (task.zero) {
      RETURN_IF_ERROR(WaitTurn(index));
      RETURN_IF_ERROR(dst_.WriteZeroes(task.offset, task.length));
      EndTurn(index);
      done_ += task.length;
      return OkStatus();
    }
    std::span<uint8_t> data(buf.data(), task.length);
    RETURN_IF_ERROR(src_.Read(task.offset, data));
    read_ += task.length;
    // Runs of non-zero units are written; runs of zero units skipped (or
    // zeroed when the target is not known to read as zeros).
    struct Piece {
      uint64_t pos, end;
      bool zero;
      std::vector<uint8_t> prepared;
    };
    std::vector<Piece> pieces;
    for (uint64_t pos = 0; pos < task.length;) {
      bool zero = UnitIsZero(data, pos);
      uint64_t end = pos + std::min(unit_, task.length - pos);
      while (end < task.length && UnitIsZero(data, end) == zero)
        end += std::min(unit_, task.length - end);
      pieces.push_back({pos, end, zero, {}});
      pos = end;
    }
    if (dst_.ordered()) {
      for (Piece& p : pieces) {
        if (p.zero) continue;
        ASSIGN_OR_RETURN(p.prepared,
                         dst_.Prepare(task.offset + p.pos, data.subspan(p.pos, p.end - p.pos)));
      }
    }
    RETURN_IF_ERROR(WaitTurn(index));
    for (Piece& p : pieces) {
      if (p.zero) {
        skipped_ += p.end - p.pos;
        if (!target_zero_) RETURN_IF_ERROR(dst_.WriteZeroes(task.offset + p.pos, p.end - p.pos));
      } else if (dst_.ordered()) {
        RETURN_IF_ERROR(dst_.WritePrepared(task.offset + p.pos, std::move(p.prepared)));
        written_ += p.end - p.pos;
      } else {
        RETURN_IF_ERROR(dst_.Write(task.offset + p.pos, data.subspan(p.pos, p.end - p.pos)));
        written_ += p.end - p.pos;
      }
    }
    EndTurn(index);
    done_ += task.length;
    return OkStatus();
  }

  bool UnitIsZero(std::span<const uint8_t> data, uint64_t pos) const {
    return o_.sparse_size > 0 && IsZero(&data[pos], std::min<uint64_t>(unit_, data.size() - pos));
  }

  // Ordered targets take the tasks one at a time in offset order; the
  // workers still read (and detect zeros) in parallel.
  Status WaitTurn(size_t index) {
    if (!dst_.ordered()) return OkStatus();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return turn_ == index || failed_.load(); });
    if (failed_) return Error(ErrorCode::kUnavailable, "copy stopped");
    return OkStatus();
  }
  void EndTurn(size_t index) {
    if (!dst_.ordered()) return;
    std::lock_guard lock(mu_);
    turn_ = index + 1;
    cv_.notify_all();
  }

 private:
  ImageReader& src_;
  ImageWriter& dst_;
  const CopyOptions& o_;
  uint64_t unit_;
  uint64_t chunk_;
  bool target_zero_;
  std::vector<Task> tasks_;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> done_{0}, read_{0}, written_{0}, skipped_{0};
  std::atomic<bool> failed_{false};
  std::atomic<bool> pause_{false};
  int paused_ = 0;  // workers waiting out a checkpoint
  std::mutex mu_;
  std::condition_variable cv_;
  int finished_ = 0;
  size_t turn_ = 0;
  std::optional<Error> error_;
};

}  // namespace

bool IsZero(const uint8_t* data, size_t size) {
  // Check the first 16 bytes cheaply, then compare the buffer with itself
  // shifted: memcmp is vectorized, a byte loop is not.
  size_t head = std::min<size_t>(size, 16);
  for (size_t i = 0; i < head; ++i) {
    if (data[i]) return false;
  }
  return size <= 16 || std::memcmp(data, data + 16, size - 16) == 0;
}

Result<CopyStats> CopyImage(ImageReader& src, ImageWriter& dst, const CopyOptions& o) {
  if (src.virtual_size() == 0) {
    RETURN_IF_ERROR(dst.Finish());
    return CopyStats{};
  }
  // Whole units of the target's allocation granularity, at least -S long.
  const uint64_t unit =
      AlignUp(std::max<uint64_t>(dst.granularity(), o.sparse_size), dst.granularity());
  const uint64_t chunk = AlignUp(std::max(o.chunk_size, unit), unit);
  const bool target_zero = dst.starts_zeroed() || o.target_is_zero;
  CopyStats stats;
  stats.virtual_size = src.virtual_size();
  auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<Task> tasks,
                   Plan(src, unit, chunk, !target_zero, o.sparse_size == 0, &stats.zero_bytes));
  uint64_t first = 0;
  if (o.resume.begin) {
    ASSIGN_OR_RETURN(first, o.resume.begin(Describe(tasks)));
    if (first > tasks.size()) {
      return Error(ErrorCode::kInternal, "resume point lies past the end of the plan");
    }
  }
  uint64_t done = target_zero ? stats.zero_bytes : 0;
  for (uint64_t i = 0; i < first; ++i) stats.resumed_at += tasks[i].length;
  done += stats.resumed_at;
  Copier copier(src, dst, o, unit, chunk, target_zero, std::move(tasks));
  RETURN_IF_ERROR(copier.Run(stats, done, first));
  RETURN_IF_ERROR(dst.Finish());
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (o.progress) o.progress({stats.virtual_size, stats.virtual_size, stats.seconds});
  return stats;
}

}  // namespace ferry::image
