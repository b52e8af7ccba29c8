#include "migration/disk_receiver.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry::migration {
namespace {

// Record progress after this much data, so a receiver killed outright loses little.
constexpr uint64_t kSaveEveryBytes = 256ull << 20;

Status WriteAllAt(int fd, const uint8_t* data, uint64_t length, uint64_t offset,
                  const std::string& path) {
  uint64_t done = 0;
  while (done < length) {
    ssize_t n = ::pwrite(fd, data + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("writing " + path);
    done += static_cast<uint64_t>(n);
  }
  return OkStatus();
}

void SetBit(std::vector<uint64_t>& bits, uint64_t i) {
  bits[i / 64] |= uint64_t{1} << (i % 64);
}

}  // namespace

std::vector<std::string> DiskReceiver::image_paths() const {
  std::vector<std::string> paths;
  for (size_t i = 0; i < plan_.size(); ++i) {
    paths.push_back(i < targets_.size() ? targets_[i] : plan_[i].source_path);
  }
  return paths;
}

Result<std::vector<state::DiskResumeEntry>> DiskReceiver::Prepare(
    const std::vector<state::DiskPlanEntry>& plan) {
  if (planned_) return Error(ErrorCode::kCorrupt, "the stream has a second disk plan");
  planned_ = true;
  plan_ = plan;
  bool copy = !plan.empty() && plan[0].mode == state::DiskMode::kCopy;
  if (copy && targets_.size() != plan.size()) {
    return Error(
        ErrorCode::kInvalidArgument,
        "the VM has " + std::to_string(plan.size()) +
            " disk(s) to copy; give ferry receive one --disk PATH for each, in order (got " +
            std::to_string(targets_.size()) + ")");
  }
  if (!copy && !targets_.empty() && targets_.size() != plan.size()) {
    return Error(ErrorCode::kInvalidArgument, "the VM has " + std::to_string(plan.size()) +
                                                  " disk(s) but ferry receive got " +
                                                  std::to_string(targets_.size()) + " --disk");
  }
  std::vector<state::DiskResumeEntry> answers;
  open_.resize(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    if (plan[i].mode == state::DiskMode::kShared) {
      std::string path = image_paths()[i];
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        return Error(ErrorCode::kNotFound,
                     "shared disk " + path + " is not reachable here (" + std::strerror(errno) +
                         "); without shared storage, migrate with --copy-storage");
      }
      answers.push_back({});
      continue;
    }
    ASSIGN_OR_RETURN(state::DiskResumeEntry answer, OpenTarget(i, plan[i]));
    answers.push_back(std::move(answer));
  }
  return answers;
}

Result<state::DiskResumeEntry> DiskReceiver::OpenTarget(size_t index,
                                                        const state::DiskPlanEntry& disk) {
  Target& t = open_[index];
  t.path = targets_[index];
  t.progress.session = disk.session;
  t.progress.size_bytes = disk.size_bytes;
  t.progress.chunk_bytes = disk.chunk_bytes;
  t.progress.present.assign((state::ChunkCount(disk) + 63) / 64, 0);
  state::DiskResumeEntry answer;

  std::optional<PartialCopy> earlier = LoadPartialCopy(t.path);
  struct stat st {};
  bool exists = ::stat(t.path.c_str(), &st) == 0;
  if (exists && !S_ISREG(st.st_mode)) {
    return Error(ErrorCode::kInvalidArgument,
                 t.path + " is not a regular file; block migration writes disk images to files");
  }
  if (exists && !earlier && st.st_size != 0) {
    return Error(ErrorCode::kFailedPrecondition,
                 t.path +
                     " exists and is not an unfinished copy of this disk; remove it or "
                     "name another path with --disk");
  }
  t.fd = Fd(::open(t.path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!t.fd.valid()) return ErrnoError("opening disk target " + t.path);
  bool resume = earlier && earlier->session == disk.session &&
                earlier->size_bytes == disk.size_bytes && earlier->chunk_bytes == disk.chunk_bytes;
  if (resume) {
    t.progress.present = earlier->present;
    answer.present = earlier->present;
    answer.target_zeroed = false;  // chunks not claimed may hold anything
  } else if (::ftruncate(t.fd.get(), 0) != 0) {
    // A copy of another session (the source restarted): start again from zeros.
    return ErrnoError("truncating " + t.path);
  }
  if (::ftruncate(t.fd.get(), static_cast<off_t>(disk.size_bytes)) != 0) {
    return ErrnoError("sizing " + t.path);
  }
  // Marks the image unfinished from the first byte on.
  RETURN_IF_ERROR(SavePartialCopy(t.path, t.progress));
  return answer;
}

Status DiskReceiver::Receive(state::SectionReader& reader, const state::SectionHeader& header) {
  size_t index = header.instance;
  if (!planned_ || index >= plan_.size() || plan_[index].mode != state::DiskMode::kCopy) {
    return Error(ErrorCode::kCorrupt,
                 "section 'disk-chunks' for disk " + std::to_string(index) + " that is not copied");
  }
  const state::DiskPlanEntry& disk = plan_[index];
  ASSIGN_OR_RETURN(ReceivedChunks got,
                   ReadChunkBatch(reader, header.length, disk.size_bytes, disk.chunk_bytes));
  RETURN_IF_ERROR(Apply(open_[index], disk, got));
  bytes_since_save_ += got.data.size();
  if (bytes_since_save_ >= kSaveEveryBytes) RETURN_IF_ERROR(SaveProgress());
  return OkStatus();
}

// Starts writing the batch back to disk now, without waiting for it: the
// flushes at `sync` and at the handover (the second inside the downtime) then
// find little left to write.
void DiskReceiver::StartWriteback(Target& target, const state::DiskPlanEntry& disk,
                                  const std::vector<uint64_t>& chunks) {
  auto [first, last] = std::minmax_element(chunks.begin(), chunks.end());
  uint64_t begin = *first * disk.chunk_bytes;
  uint64_t end = *last * disk.chunk_bytes + ChunkLength(*last, disk.size_bytes, disk.chunk_bytes);
  (void)::sync_file_range(target.fd.get(), static_cast<off64_t>(begin),
                          static_cast<off64_t>(end - begin), SYNC_FILE_RANGE_WRITE);
}

Status DiskReceiver::Apply(Target& target, const state::DiskPlanEntry& disk,
                           const ReceivedChunks& got) {
  uint64_t at = 0;
  for (uint64_t chunk : got.data_chunks) {
    uint64_t length = ChunkLength(chunk, disk.size_bytes, disk.chunk_bytes);
    RETURN_IF_ERROR(WriteAllAt(target.fd.get(), got.data.data() + at, length,
                               chunk * disk.chunk_bytes, target.path));
    at += length;
    SetBit(target.progress.present, chunk);
  }
  if (!got.data_chunks.empty()) StartWriteback(target, disk, got.data_chunks);
  for (uint64_t chunk : got.zero_chunks) {
    uint64_t length = ChunkLength(chunk, disk.size_bytes, disk.chunk_bytes);
    if (::fallocate(target.fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                    static_cast<off_t>(chunk * disk.chunk_bytes),
                    static_cast<off_t>(length)) != 0) {
      std::vector<uint8_t> zeros(length, 0);  // a file system without hole punching
      RETURN_IF_ERROR(
          WriteAllAt(target.fd.get(), zeros.data(), length, chunk * disk.chunk_bytes, target.path));
    }
    SetBit(target.progress.present, chunk);
  }
  return OkStatus();
}

Status DiskReceiver::SaveProgress() {
  bytes_since_save_ = 0;
  for (Target& t : open_) {
    if (!t.fd.valid()) continue;
    // Only what is durable may be claimed.
    if (::fdatasync(t.fd.get()) != 0) return ErrnoError("flushing " + t.path);
    RETURN_IF_ERROR(SavePartialCopy(t.path, t.progress));
  }
  return OkStatus();
}

Status DiskReceiver::Complete() {
  for (Target& t : open_) {
    if (!t.fd.valid()) continue;
    if (::fdatasync(t.fd.get()) != 0) return ErrnoError("flushing " + t.path);
    RETURN_IF_ERROR(RemovePartialCopy(t.path));
    t.fd.Reset();
  }
  return OkStatus();
}

}  // namespace ferry::migration
