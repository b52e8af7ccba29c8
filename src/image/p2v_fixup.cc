#include "image/p2v_fixup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/fd.h"
#include "base/units.h"
#include "image/command_util.h"
#include "image/convert.h"
#include "image/convert_checkpoint.h"
#include "image/file.h"
#include "image/guest_fixup.h"
#include "image/raw.h"
#include "image/temp_output.h"
#include "image/undo_log.h"

namespace ferry::image {
namespace {

// Fault tests stop a run at a named point with SIGKILL, as a crash would
// (FERRY_FAULT=p2v-after-fixup | p2v-in-convert).
void FaultPoint(const char* name) {
  const char* want = std::getenv("FERRY_FAULT");
  if (want && std::strcmp(want, name) == 0) ::raise(SIGKILL);
}

std::string FormatFixups(const FixupReport& report) {
  std::string out;
  for (const std::string& l : report.changes) out += "fix-up: " + l + "\n";
  for (const std::string& l : report.kernels) out += l + "\n";
  for (const std::string& l : report.unbootable) out += "warning: " + l + "\n";
  for (const std::string& l : report.warnings) out += "fix-up: " + l + "\n";
  return out;
}

// Replaces `path` atomically with `text`, synced.
Status WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".new";
  ::unlink(temp.c_str());
  {
    ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(temp));
    RETURN_IF_ERROR(file.WriteAt(
        0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
    RETURN_IF_ERROR(file.Sync());
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoError("rename " + temp);
  return OkStatus();
}

Result<std::string> ReadSmallFile(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  if (size > (1 << 20)) return Error(ErrorCode::kCorrupt, path + " is too large");
  std::string text(size, '\0');
  RETURN_IF_ERROR(file.ReadAt(0, std::span<uint8_t>(reinterpret_cast<uint8_t*>(text.data()), size),
                              "fix-up report"));
  return text;
}

Status SyncDirOf(const std::string& path) {
  Fd dir(::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.valid() && ::fsync(dir.get()) != 0) return ErrnoError("fsync directory of " + path);
  return OkStatus();
}

// A p2v with fix-ups goes through a raw staging copy beside the output, in
// three phases, each of which a rerun of the same command can take up:
//   copy     source -> STAGE (".OUT.ferry-part.raw"), checkpointed in
//            STAGE.ckpt like a convert; a rerun resumes the copy. The last
//            checkpoint vouches for the whole copy and stays until the end,
//            so every later rerun still checks that the source is the same.
//   fix-up   in place on STAGE; every write is saved first in STAGE.undo.
//            Done: STAGE.fixed holds the report and the undo log goes.
//            A rerun that finds an undo log without STAGE.fixed undoes the
//            partial fix-up and fixes up again.
//   convert  STAGE -> OUT through TempOutput (raw: STAGE is renamed to OUT);
//            a rerun starts this phase over.
class FixupP2v {
 public:
  FixupP2v(ImageReader& src, const Args& args, Format format)
      : src_(src), args_(args), format_(format) {
    out_ = *args.Get("--out");
    stage_ = TempNameFor(out_) + ".raw";
    undo_ = stage_ + ".undo";
    fixed_ = stage_ + ".fixed";
  }

  Status Run() {
    const bool force = args_.Has("--force");
    // Refuses an existing OUT early (unless --force); a leftover conversion
    // output is removed before the convert phase starts over.
    ASSIGN_OR_RETURN(TempOutput final_out, TempOutput::Prepare(out_, force, true));
    ASSIGN_OR_RETURN(std::string identity,
                     ConvertIdentity(*args_.Get("--source"), src_, "p2v-stage raw"));
    ASSIGN_OR_RETURN(ConvertCheckpoints checkpoints,
                     ConvertCheckpoints::Find(stage_, identity, force));
    if (!checkpoints.found()) {
      for (const std::string& f : {stage_, undo_, fixed_}) ::unlink(f.c_str());
    }
    struct stat st;
    const bool fixed = checkpoints.found() && ::stat(fixed_.c_str(), &st) == 0;
    if (fixed) {
      ::unlink(undo_.c_str());  // the fix-up finished; its log was about to go
      ASSIGN_OR_RETURN(std::string report, ReadSmallFile(fixed_));
      std::fputs(report.c_str(), stdout);
    } else {
      RETURN_IF_ERROR(UndoPartialFixup());
      RETURN_IF_ERROR(CopyToStage(checkpoints));
      RETURN_IF_ERROR(Fixup());
    }
    RETURN_IF_ERROR(Convert(final_out));
    for (const std::string& f : {stage_, checkpoints.path(), fixed_}) ::unlink(f.c_str());
    return OkStatus();
  }

 private:
  Status UndoPartialFixup() {
    struct stat st;
    if (::stat(undo_.c_str(), &st) != 0) return OkStatus();
    ASSIGN_OR_RETURN(uint64_t records, RestoreFromUndoLog(undo_, stage_));
    std::fprintf(stderr, "ferry p2v: undid an interrupted fix-up (%llu ranges restored)\n",
                 (unsigned long long)records);
    if (::unlink(undo_.c_str()) != 0) return ErrnoError("remove " + undo_);
    return OkStatus();
  }

  Status CopyToStage(ConvertCheckpoints& checkpoints) {
    CreateOptions create;
    std::unique_ptr<ImageWriter> dst;
    const bool resuming = checkpoints.found().has_value();
    if (resuming) {
      ASSIGN_OR_RETURN(dst, ResumeImage(Format::kRaw, stage_, src_.virtual_size(), create,
                                        checkpoints.found()->writer_state));
    } else {
      ASSIGN_OR_RETURN(dst, CreateImage(Format::kRaw, stage_, src_.virtual_size(), create));
    }
    RETURN_IF_ERROR(checkpoints.Lock(stage_));
    CopyOptions copy;
    if (args_.Has("-p")) copy.progress = PrintCopyProgress;
    ASSIGN_OR_RETURN(double interval, CheckpointInterval(args_));
    RETURN_IF_ERROR(checkpoints.Install(*dst, copy, interval));
    ASSIGN_OR_RETURN(CopyStats stats, CopyImage(src_, *dst, copy));
    RETURN_IF_ERROR(checkpoints.SaveComplete(*dst));
    if (resuming) {
      std::fprintf(stderr, "ferry p2v: resumed %s at %s of %s\n", out_.c_str(),
                   FormatSize(stats.resumed_at).c_str(), FormatSize(stats.virtual_size).c_str());
    }
    return OkStatus();
  }

  Status Fixup() {
    ASSIGN_OR_RETURN(UndoLog undo, UndoLog::Create(undo_, stage_));
    FixupOptions fo;
    fo.fstab_uuid = args_.Has("--fstab-uuid");
    fo.undo = &undo;
    ASSIGN_OR_RETURN(FixupReport report, FixGuest({stage_}, fo));
    {
      // ext2fs wrote through its own descriptor: make the fix-ups durable
      // before the marker says they are done.
      ASSIGN_OR_RETURN(ImageFile stage, ImageFile::Open(stage_, false));
      RETURN_IF_ERROR(stage.Sync());
    }
    FaultPoint("p2v-after-fixup");
    const std::string text = FormatFixups(report);
    RETURN_IF_ERROR(WriteFileAtomically(fixed_, text));
    std::fputs(text.c_str(), stdout);
    if (::unlink(undo_.c_str()) != 0) return ErrnoError("remove " + undo_);
    return OkStatus();
  }

  Status Convert(TempOutput& final_out) {
    if (format_ == Format::kRaw) {
      if (::rename(stage_.c_str(), out_.c_str()) != 0) return ErrnoError("rename " + stage_);
      return SyncDirOf(out_);
    }
    ::unlink(final_out.temp_path().c_str());  // an interrupted conversion starts over
    ASSIGN_OR_RETURN(auto raw, OpenRaw(stage_));
    CreateOptions create;
    create.final_name = out_.substr(out_.rfind('/') + 1);
    ASSIGN_OR_RETURN(auto dst,
                     CreateImage(format_, final_out.temp_path(), raw->virtual_size(), create));
    FaultPoint("p2v-in-convert");
    RETURN_IF_ERROR(CopyImage(*raw, *dst, CopyOptions{}));
    dst.reset();
    return final_out.Commit();
  }

  ImageReader& src_;
  const Args& args_;
  Format format_;
  std::string out_, stage_, undo_, fixed_;
};

}  // namespace

Status RunFixupP2v(ImageReader& src, const Args& args, Format format) {
  return FixupP2v(src, args, format).Run();
}

}  // namespace ferry::image
