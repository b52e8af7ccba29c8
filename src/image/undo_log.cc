#include "image/undo_log.h"

#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/crc32c.h"
#include "base/endian.h"
#include "image/file.h"

namespace ferry::image {
namespace {

constexpr char kMagic[8] = {'F', 'E', 'R', 'R', 'Y', 'U', 'N', 'D'};
constexpr uint64_t kSector = 512;
constexpr size_t kRecordHead = 16;
constexpr uint32_t kMaxRecord = 64u << 20;

// The log the next channel opened through the manager writes to: ext2fs's
// open callback takes only a name and flags. Set by UndoLogScope.
thread_local UndoLog* current_log = nullptr;

uint32_t RecordCrc(const uint8_t* head, std::span<const uint8_t> data) {
  return Crc32c(data, Crc32c(std::span<const uint8_t>(head, 12)));
}

// One open channel: ext2fs's unix channel underneath, and where its
// offset= option puts the filesystem inside the disk.
struct Channel {
  io_channel inner = nullptr;
  UndoLog* log = nullptr;
  uint64_t base = 0;
};

Channel* Of(io_channel c) {
  return static_cast<Channel*>(c->private_data);
}

errcode_t Logged(io_channel c, uint64_t offset, uint64_t length) {
  Status st = Of(c)->log->SaveBefore(Of(c)->base + offset, length);
  return st.ok() ? 0 : EXT2_ET_SHORT_WRITE;
}

uint64_t Bytes(io_channel c, int count) {
  return count < 0 ? uint64_t(-int64_t(count)) : uint64_t(count) * uint64_t(c->block_size);
}

errcode_t Open(const char* name, int flags, io_channel* out);

errcode_t Close(io_channel c) {
  if (--c->refcount > 0) return 0;
  Channel* ch = Of(c);
  errcode_t err = io_channel_close(ch->inner);
  delete ch;
  std::free(c->name);
  delete c;
  return err;
}

errcode_t SetBlksize(io_channel c, int size) {
  errcode_t err = io_channel_set_blksize(Of(c)->inner, size);
  if (!err) c->block_size = size;
  return err;
}

errcode_t ReadBlk64(io_channel c, unsigned long long block, int count, void* data) {
  return io_channel_read_blk64(Of(c)->inner, block, count, data);
}

errcode_t ReadBlk(io_channel c, unsigned long block, int count, void* data) {
  return ReadBlk64(c, block, count, data);
}

errcode_t WriteBlk64(io_channel c, unsigned long long block, int count, const void* data) {
  if (errcode_t err = Logged(c, uint64_t(block) * uint64_t(c->block_size), Bytes(c, count))) {
    return err;
  }
  return io_channel_write_blk64(Of(c)->inner, block, count, data);
}

errcode_t WriteBlk(io_channel c, unsigned long block, int count, const void* data) {
  return WriteBlk64(c, block, count, data);
}

errcode_t WriteByte(io_channel c, unsigned long offset, int count, const void* data) {
  if (count <= 0) return 0;
  if (errcode_t err = Logged(c, offset, uint64_t(count))) return err;
  return io_channel_write_byte(Of(c)->inner, offset, count, data);
}

errcode_t Flush(io_channel c) {
  return io_channel_flush(Of(c)->inner);
}

errcode_t SetOption(io_channel c, const char* option, const char* arg) {
  if (std::strcmp(option, "offset") == 0) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(arg, &end, 0);
    if (end == arg || *end) return EXT2_ET_INVALID_ARGUMENT;
    Of(c)->base = v;
  }
  errcode_t err = io_channel_set_options(Of(c)->inner, (std::string(option) + "=" + arg).c_str());
  c->align = Of(c)->inner->align;
  return err;
}

errcode_t GetStats(io_channel c, io_stats* stats) {
  io_channel inner = Of(c)->inner;
  return inner->manager->get_stats ? inner->manager->get_stats(inner, stats) : 0;
}

// Discards and zeroing would change bytes without a write: refused, so
// that ext2fs falls back to writes, which are logged.
errcode_t Discard(io_channel, unsigned long long, unsigned long long) {
  return EXT2_ET_UNIMPLEMENTED;
}

errcode_t Zeroout(io_channel, unsigned long long, unsigned long long) {
  return EXT2_ET_UNIMPLEMENTED;
}

struct_io_manager manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "ferry undo I/O manager",
    .open = Open,
    .close = Close,
    .set_blksize = SetBlksize,
    .read_blk = ReadBlk,
    .write_blk = WriteBlk,
    .flush = Flush,
    .write_byte = WriteByte,
    .set_option = SetOption,
    .get_stats = GetStats,
    .read_blk64 = ReadBlk64,
    .write_blk64 = WriteBlk64,
    .discard = Discard,
    .cache_readahead = nullptr,
    .zeroout = Zeroout,
    .reserved = {},
};

errcode_t Open(const char* name, int flags, io_channel* out) {
  if (current_log == nullptr || name == nullptr) return EXT2_ET_BAD_DEVICE_NAME;
  if (current_log->disk_path() != name) return EXT2_ET_BAD_DEVICE_NAME;
  io_channel inner = nullptr;
  if (errcode_t err = unix_io_manager->open(name, flags, &inner)) return err;
  auto* c = new struct_io_channel{};
  c->magic = EXT2_ET_MAGIC_IO_CHANNEL;
  c->manager = &manager;
  c->name = strdup(name);
  c->block_size = inner->block_size;
  c->refcount = 1;
  c->flags = inner->flags;
  c->align = inner->align;
  c->private_data = new Channel{inner, current_log, 0};
  *out = c;
  return 0;
}

}  // namespace

Result<UndoLog> UndoLog::Create(const std::string& log_path, const std::string& disk_path) {
  Fd log(::open(log_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!log.valid()) return ErrnoError("create " + log_path);
  Fd disk(::open(disk_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!disk.valid()) return ErrnoError("open " + disk_path);
  UndoLog u(std::move(log), std::move(disk), disk_path);
  if (::pwrite(u.log_.get(), kMagic, sizeof kMagic, 0) != ssize_t(sizeof kMagic) ||
      ::fdatasync(u.log_.get()) != 0) {
    return ErrnoError("write " + log_path);
  }
  u.end_ = sizeof kMagic;
  return u;
}

Status UndoLog::SaveBefore(uint64_t offset, uint64_t length) {
  if (length == 0) return OkStatus();
  const uint64_t first = offset / kSector, last = (offset + length - 1) / kSector;
  bool appended = false;
  for (uint64_t s = first; s <= last;) {
    if (saved_.count(s)) {
      ++s;
      continue;
    }
    // A run of sectors not saved yet: their bytes on disk are the originals.
    uint64_t e = s;
    while (e + 1 <= last && !saved_.count(e + 1) && (e + 1 - s) * kSector < kMaxRecord) ++e;
    std::vector<uint8_t> record(kRecordHead + (e - s + 1) * kSector, 0);
    ssize_t got =
        ::pread(disk_.get(), &record[kRecordHead], record.size() - kRecordHead, off_t(s * kSector));
    if (got < 0) return ErrnoError("read " + disk_path_);
    // Past the end of the file the disk reads as nothing: keep the zeros.
    StoreLE64(&record[0], s * kSector);
    StoreLE32(&record[8], uint32_t(record.size() - kRecordHead));
    StoreLE32(&record[12],
              RecordCrc(record.data(), std::span<const uint8_t>(record).subspan(kRecordHead)));
    if (::pwrite(log_.get(), record.data(), record.size(), off_t(end_)) != ssize_t(record.size())) {
      return ErrnoError("write undo log");
    }
    end_ += record.size();
    for (uint64_t i = s; i <= e; ++i) saved_.insert(i);
    appended = true;
    s = e + 1;
  }
  if (appended && ::fdatasync(log_.get()) != 0) return ErrnoError("sync undo log");
  return OkStatus();
}

struct_io_manager* UndoLog::Manager() {
  return &manager;
}

UndoLogScope::UndoLogScope(UndoLog* log) : previous_(current_log) {
  current_log = log;
}

UndoLogScope::~UndoLogScope() {
  current_log = previous_;
}

Result<uint64_t> RestoreFromUndoLog(const std::string& log_path, const std::string& disk_path) {
  ASSIGN_OR_RETURN(ImageFile log, ImageFile::Open(log_path, false));
  ASSIGN_OR_RETURN(ImageFile disk, ImageFile::Open(disk_path, true));
  ASSIGN_OR_RETURN(uint64_t size, log.Size());
  ASSIGN_OR_RETURN(uint64_t disk_size, disk.Size());
  uint8_t magic[sizeof kMagic];
  if (size < sizeof kMagic) return uint64_t(0);  // torn before the first record
  RETURN_IF_ERROR(log.ReadAt(0, magic, "undo log"));
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) {
    return Error(ErrorCode::kCorrupt, log_path + " is not a ferry undo log");
  }
  uint64_t applied = 0;
  for (uint64_t at = sizeof kMagic; size - at >= kRecordHead;) {
    uint8_t head[kRecordHead];
    RETURN_IF_ERROR(log.ReadAt(at, head, "undo record"));
    const uint64_t offset = LoadLE64(head);
    const uint32_t length = LoadLE32(head + 8);
    if (length > kMaxRecord || length > size - at - kRecordHead) break;  // torn
    std::vector<uint8_t> data(length);
    RETURN_IF_ERROR(log.ReadAt(at + kRecordHead, data, "undo record"));
    if (RecordCrc(head, data) != LoadLE32(head + 12)) break;  // torn
    if (offset > disk_size || length > disk_size - offset) {
      return Error(ErrorCode::kCorrupt, log_path + " names bytes past the end of " + disk_path);
    }
    RETURN_IF_ERROR(disk.WriteAt(offset, data));
    at += kRecordHead + length;
    ++applied;
  }
  RETURN_IF_ERROR(disk.Sync());
  return applied;
}

}  // namespace ferry::image
