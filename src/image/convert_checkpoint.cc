#include "image/convert_checkpoint.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdlib>

#include "image/temp_output.h"

namespace ferry::image {
namespace {

// Fault tests kill the process with SIGKILL, as a crash would, at the Nth
// checkpoint that has progress to record: FERRY_FAULT=kill-before-checkpoint-N
// when it is due (what was written since checkpoint N-1 is in the file but
// not vouched for), kill-after-checkpoint-N once it is saved.
void FaultAt(const char* when, uint64_t n) {
  const char* fault = std::getenv("FERRY_FAULT");
  if (fault &&
      std::string(fault) == std::string("kill-") + when + "-checkpoint-" + std::to_string(n)) {
    ::raise(SIGKILL);
  }
}

}  // namespace

Result<std::string> ConvertIdentity(const std::string& src_path, const ImageReader& src,
                                    const std::string& output_options) {
  char real[PATH_MAX];
  if (::realpath(src_path.c_str(), real) == nullptr) return ErrnoError("resolve " + src_path);
  struct stat st;
  if (::stat(real, &st) != 0) return ErrnoError("stat " + src_path);
  // The change time moves on every write to the file, so a source written
  // to since the checkpoint no longer matches.
  return std::string("ferry-convert 1\nsource=") + real +
         "\nvirtual-size=" + std::to_string(src.virtual_size()) +
         "\nfile-size=" + std::to_string(st.st_size) + "\ninode=" + std::to_string(st.st_ino) +
         "\nctime=" + std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec) +
         "\nmtime=" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) +
         "\noutput=" + output_options + "\n";
}

Result<ConvertCheckpoints> ConvertCheckpoints::Find(const std::string& temp_path,
                                                    std::string identity, bool force) {
  ConvertCheckpoints c;
  c.path_ = CheckpointPathFor(temp_path);
  c.identity_ = std::move(identity);
  if (force) {
    ::unlink(c.path_.c_str());
    return c;
  }
  struct stat st;
  if (::stat(temp_path.c_str(), &st) != 0) {
    ::unlink(c.path_.c_str());  // a checkpoint without its output is worth nothing
    return c;
  }
  const std::string refuse = "a partial output " + temp_path + " from an interrupted run exists";
  RETURN_IF_ERROR(c.Lock(temp_path));
  Result<Checkpoint> loaded = LoadCheckpoint(c.path_);
  if (!loaded.ok()) {
    return Error(ErrorCode::kFailedPrecondition, refuse + " and cannot be resumed (" +
                                                     loaded.error().message() +
                                                     "); remove it or use --force to start over");
  }
  if (loaded->identity != c.identity_) {
    return Error(ErrorCode::kFailedPrecondition,
                 refuse +
                     " but was made from a different or changed source, or with other "
                     "options; use --force to start over");
  }
  c.found_ = std::move(*loaded);
  return c;
}

ConvertCheckpoints ConvertCheckpoints::At(std::string path, std::string identity,
                                          std::optional<Checkpoint> found) {
  ConvertCheckpoints c;
  c.path_ = std::move(path);
  c.identity_ = std::move(identity);
  c.found_ = std::move(found);
  return c;
}

Status ConvertCheckpoints::SaveComplete(ImageWriter& writer) {
  ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> saved, writer.SaveState());
  if (!saved) return Error(ErrorCode::kInternal, "this output cannot be checkpointed");
  Checkpoint c{identity_, plan_.tasks, plan_.digest, plan_.tasks, std::move(*saved)};
  return SaveCheckpoint(path_, c);
}

Status ConvertCheckpoints::Lock(const std::string& temp_path) {
  if (lock_.valid()) return OkStatus();
  Fd fd(::open(temp_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("open " + temp_path);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return Error(ErrorCode::kFailedPrecondition,
                   temp_path + " is being written by another ferry process");
    }
    return ErrnoError("lock " + temp_path);
  }
  lock_ = std::move(fd);
  return OkStatus();
}

Status ConvertCheckpoints::Install(ImageWriter& writer, CopyOptions& copy, double interval) {
  ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> state, writer.SaveState());
  if (!state) return OkStatus();  // this format cannot resume: no checkpoints
  copy.resume.interval_seconds = interval;
  copy.resume.begin = [this](const PlanInfo& plan) -> Result<uint64_t> {
    plan_ = plan;
    if (!found_) return uint64_t(0);
    if (found_->plan_tasks != plan.tasks || found_->plan_digest != plan.digest) {
      return Error(ErrorCode::kFailedPrecondition,
                   "the checkpoint " + path_ +
                       " does not match this copy's plan; use --force to start over");
    }
    return found_->frontier;
  };
  copy.resume.checkpoint = [this, &writer](uint64_t frontier) -> Status {
    if (frontier > 0) FaultAt("before", ++checkpoints_);
    // Data first, then the checkpoint that vouches for it.
    RETURN_IF_ERROR(writer.Flush());
    ASSIGN_OR_RETURN(std::optional<std::vector<uint8_t>> saved, writer.SaveState());
    if (!saved) return OkStatus();
    Checkpoint c{identity_, plan_.tasks, plan_.digest, frontier, std::move(*saved)};
    RETURN_IF_ERROR(SaveCheckpoint(path_, c));
    if (frontier > 0) FaultAt("after", checkpoints_);
    return OkStatus();
  };
  return OkStatus();
}

Result<CopyStats> RunResumableCopy(ImageReader& src, const ResumableCopy& job, CopyOptions copy) {
  ASSIGN_OR_RETURN(std::string identity, ConvertIdentity(job.src_path, src, job.output_options));
  const std::string temp_path = TempNameFor(job.dst_path);
  // Before Prepare, which would otherwise own (and on failure remove) a
  // leftover that cannot be resumed.
  ASSIGN_OR_RETURN(ConvertCheckpoints checkpoints,
                   ConvertCheckpoints::Find(temp_path, identity, job.force));
  const bool resuming = checkpoints.found().has_value();
  ASSIGN_OR_RETURN(TempOutput out, TempOutput::Prepare(job.dst_path, job.force, resuming));
  out.AddSidecar(checkpoints.path());
  std::unique_ptr<ImageWriter> dst;
  if (resuming) {
    ASSIGN_OR_RETURN(dst, ResumeImage(job.format, temp_path, src.virtual_size(), job.create,
                                      checkpoints.found()->writer_state));
  } else {
    ASSIGN_OR_RETURN(dst, CreateImage(job.format, temp_path, src.virtual_size(), job.create));
  }
  RETURN_IF_ERROR(checkpoints.Lock(temp_path));
  RETURN_IF_ERROR(checkpoints.Install(*dst, copy, job.interval));
  ASSIGN_OR_RETURN(CopyStats stats, CopyImage(src, *dst, copy));
  stats.resumed = resuming;
  dst.reset();
  RETURN_IF_ERROR(out.Commit());
  return stats;
}

}  // namespace ferry::image
