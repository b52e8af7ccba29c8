#include "image/ext_fs.h"

#include <ext2fs/ext2fs.h>

// com_err.h has no C++ guards of its own.
extern "C" {
#include <et/com_err.h>
}

#include <cstring>
#include <optional>

#include "image/undo_log.h"

namespace ferry::image {
namespace {

Error ExtError(const std::string& what, errcode_t err) {
  return Error(ErrorCode::kCorrupt, what + ": " + error_message(err));
}

struct FileCloser {
  void operator()(ext2_file_t f) const { ext2fs_file_close(f); }
};
using FilePtr = std::unique_ptr<std::remove_pointer_t<ext2_file_t>, FileCloser>;

}  // namespace

Result<ExtFs> ExtFs::Open(const std::string& disk, uint64_t offset, bool writable, UndoLog* undo) {
  std::string options = "offset=" + std::to_string(offset);
  ext2_filsys fs = nullptr;
  int flags = EXT2_FLAG_64BITS | (writable ? EXT2_FLAG_RW : 0);
  io_manager io = unix_io_manager;
  std::optional<UndoLogScope> scope;
  if (undo) {
    if (undo->disk_path() != disk) {
      return Error(ErrorCode::kInternal,
                   "the undo log is for " + undo->disk_path() + ", not " + disk);
    }
    scope.emplace(undo);
    io = UndoLog::Manager();
  }
  errcode_t err = ext2fs_open2(disk.c_str(), options.c_str(), flags, 0, 0, io, &fs);
  if (err) {
    if (fs) ext2fs_free(fs);
    return Error(ErrorCode::kNotFound, "no ext filesystem at offset " + std::to_string(offset) +
                                           " (" + error_message(err) + ")");
  }
  return ExtFs(reinterpret_cast<struct_ext2_filsys*>(fs));
}

ExtFs::ExtFs(ExtFs&& other) noexcept : fs_(std::exchange(other.fs_, nullptr)) {}

ExtFs::~ExtFs() {
  if (fs_) {
    ext2_filsys fs = reinterpret_cast<ext2_filsys>(fs_);
    ext2fs_close_free(&fs);
  }
}

std::string ExtFs::uuid() const {
  const uint8_t* u = reinterpret_cast<ext2_filsys>(fs_)->super->s_uuid;
  char buf[40];
  std::snprintf(buf, sizeof buf,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                u[15]);
  return buf;
}

std::string ExtFs::label() const {
  const char* l =
      reinterpret_cast<const char*>(reinterpret_cast<ext2_filsys>(fs_)->super->s_volume_name);
  return std::string(l, strnlen(l, EXT2_LABEL_LEN));
}

bool ExtFs::needs_recovery() const {
  return ext2fs_has_feature_journal_needs_recovery(reinterpret_cast<ext2_filsys>(fs_)->super);
}

Result<std::optional<unsigned>> ExtFs::Lookup(const std::string& path) const {
  ext2_filsys fs = reinterpret_cast<ext2_filsys>(fs_);
  ext2_ino_t ino = 0;
  errcode_t err = ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path.c_str(), &ino);
  if (err == EXT2_ET_FILE_NOT_FOUND || err == EXT2_ET_NO_DIRECTORY) {
    return std::optional<unsigned>();
  }
  if (err) return ExtError("look up " + path, err);
  return std::optional<unsigned>(ino);
}

Result<std::optional<std::string>> ExtFs::ReadFile(const std::string& path, uint64_t max) const {
  ext2_filsys fs = reinterpret_cast<ext2_filsys>(fs_);
  ASSIGN_OR_RETURN(std::optional<unsigned> ino, Lookup(path));
  if (!ino) return std::optional<std::string>();
  ext2_inode inode;
  if (errcode_t err = ext2fs_read_inode(fs, *ino, &inode)) return ExtError("read " + path, err);
  if (!LINUX_S_ISREG(inode.i_mode)) {
    return Error(ErrorCode::kUnimplemented, path + " is not a regular file (a symbolic link?)");
  }
  ext2_file_t raw = nullptr;
  if (errcode_t err = ext2fs_file_open(fs, *ino, 0, &raw)) return ExtError("open " + path, err);
  FilePtr file(raw);
  uint64_t size = ext2fs_file_get_size(raw);
  if (size > max) return Error(ErrorCode::kUnimplemented, path + " is larger than expected");
  std::string out(size, '\0');
  unsigned got = 0;
  if (size) {
    if (errcode_t err = ext2fs_file_read(raw, out.data(), unsigned(size), &got)) {
      return ExtError("read " + path, err);
    }
  }
  out.resize(got);
  return std::optional<std::string>(std::move(out));
}

Status ExtFs::WriteFile(const std::string& path, const std::string& contents) {
  ext2_filsys fs = reinterpret_cast<ext2_filsys>(fs_);
  ASSIGN_OR_RETURN(std::optional<unsigned> ino, Lookup(path));
  if (!ino) return Error(ErrorCode::kNotFound, path + " does not exist");
  ext2_file_t raw = nullptr;
  if (errcode_t err = ext2fs_file_open(fs, *ino, EXT2_FILE_WRITE, &raw)) {
    return ExtError("open " + path, err);
  }
  FilePtr file(raw);
  unsigned wrote = 0;
  if (errcode_t err = ext2fs_file_write(raw, contents.data(), unsigned(contents.size()), &wrote)) {
    return ExtError("write " + path, err);
  }
  if (wrote != contents.size())
    return Error(ErrorCode::kResourceExhausted, "short write to " + path);
  if (errcode_t err = ext2fs_file_set_size2(raw, contents.size())) {
    return ExtError("truncate " + path, err);
  }
  if (errcode_t err = ext2fs_file_close(file.release())) return ExtError("close " + path, err);
  return OkStatus();
}

Result<std::vector<std::string>> ExtFs::List(const std::string& dir) const {
  ext2_filsys fs = reinterpret_cast<ext2_filsys>(fs_);
  ASSIGN_OR_RETURN(std::optional<unsigned> ino, Lookup(dir));
  std::vector<std::string> names;
  if (!ino) return names;
  auto add = [](ext2_dir_entry* entry, int, int, char*, void* priv) -> int {
    auto* out = static_cast<std::vector<std::string>*>(priv);
    std::string name(entry->name, ext2fs_dirent_name_len(entry));
    if (name != "." && name != ".." && out->size() < 4096) out->push_back(name);
    return 0;
  };
  errcode_t err = ext2fs_dir_iterate(fs, *ino, 0, nullptr, add, &names);
  if (err == EXT2_ET_NO_DIRECTORY) return std::vector<std::string>();
  if (err) return ExtError("list " + dir, err);
  return names;
}

Status ExtFs::Close() {
  ext2_filsys fs = reinterpret_cast<ext2_filsys>(std::exchange(fs_, nullptr));
  if (errcode_t err = ext2fs_close_free(&fs)) return ExtError("close filesystem", err);
  return OkStatus();
}

}  // namespace ferry::image
