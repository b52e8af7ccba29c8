// The image layer's two interfaces. An ImageReader presents any disk image
// format as the guest sees it: a virtual size, bytes, and a map of which
// ranges hold data and which read as zeros (so that holes are never read).
// An ImageWriter builds a new image of one format from guest-visible bytes.
// Formats live one per file (raw.cc, qcow2_reader.cc, ...); the commands in
// image_command.cc and the copy engine in convert.cc see only these.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace ferry::image {

enum class Format { kRaw, kQcow2, kVmdk, kVhd, kVhdx };

// Accepts qemu-img's names too ("vpc" for VHD).
Result<Format> ParseFormat(std::string_view name);
// qemu-img's names, so that `-f`/`-O` values and `info` output match it.
const char* FormatName(Format format);

// A run of guest-visible bytes with one allocation status, after qemu-img
// map's meaning: `data` = the bytes are stored in some file of the chain,
// `zero` = they read as zeros, `present` = some layer of the chain allocates
// them, `depth` = the layer that answers (0 = this image).
struct Extent {
  uint64_t start = 0;
  uint64_t length = 0;
  bool data = false;
  bool zero = false;
  bool present = false;
  int depth = 0;
  // Where the bytes lie in the answering layer's file, when stored plainly.
  std::optional<uint64_t> host_offset;
};

// What `info` prints. Format-specific lines go to `specific`.
struct ImageDetails {
  std::string path;
  Format format = Format::kRaw;
  uint64_t virtual_size = 0;
  uint64_t disk_size = 0;  // bytes the host allocated for the file(s)
  std::optional<uint64_t> cluster_size;
  std::string backing_file;  // as named in the image
  std::string backing_path;  // resolved
  std::optional<Format> backing_format;
  std::vector<std::pair<std::string, std::string>> specific;
};

class ImageReader {
 public:
  virtual ~ImageReader() = default;

  virtual uint64_t virtual_size() const = 0;
  virtual Result<ImageDetails> Details() const = 0;
  // The image that unallocated ranges fall through to, if any.
  virtual ImageReader* backing() const { return nullptr; }

  // Fills `out` with the guest-visible bytes at `offset` (must lie within the
  // virtual size). Safe to call from several threads at once.
  virtual Status Read(uint64_t offset, std::span<uint8_t> out) = 0;
  // The extent at `offset` (< virtual size), at most `max_length` bytes long.
  // Safe to call from several threads at once.
  virtual Result<Extent> Map(uint64_t offset, uint64_t max_length) = 0;
};

struct OpenOptions {
  std::optional<Format> format;  // nullopt: probe the file's magic
  bool open_backing = true;
  // Files already open below us in the chain, to refuse backing-file loops.
  std::set<std::string> chain;
};

// Opens any supported image read-only, with its backing chain.
Result<std::unique_ptr<ImageReader>> OpenImage(const std::string& path, OpenOptions options = {});
// Guesses the format from the file's first and last bytes.
Result<Format> ProbeFormat(const std::string& path);

enum class Compression { kZlib, kZstd };

struct CreateOptions {
  uint64_t cluster_size = 0;  // 0: the format's default
  std::string compat;         // qcow2: "0.10" (v2) or "1.1" (v3, default)
  std::string backing_file;   // stored as given; resolved relative to the image
  std::optional<Format> backing_format;
  bool compress = false;  // convert -c: compress every cluster that shrinks
  Compression compression = Compression::kZlib;
  std::string subformat;     // vmdk: monolithicSparse|streamOptimized; vpc: dynamic|fixed
  std::string adapter_type;  // vmdk: ide|lsilogic|buslogic|legacyESX
  // The image's final file name, for formats that name their own file inside
  // (a VMDK descriptor's extent line) while it is written under a temporary name.
  std::string final_name;
  // Flush to stable storage in Finish() (qemu-img's -t writeback); false is
  // -t unsafe.
  bool flush = true;
};

// Parses qemu-img style "-o key=value,key=value" into `options`.
Status ParseCreateOptions(std::string_view text, CreateOptions& options);

class ImageWriter {
 public:
  virtual ~ImageWriter() = default;

  // The unit the format allocates in. Write() takes whole units (the last one
  // may be short at the end of the disk) at offsets that are multiples of it.
  virtual uint64_t granularity() const = 0;
  // True when Write() must be called in increasing offset order from one
  // thread at a time (stream formats); otherwise Write() is thread-safe.
  virtual bool ordered() const { return false; }
  // True when unwritten ranges read as zeros (a fresh image, no backing).
  virtual bool starts_zeroed() const { return true; }

  virtual Status Write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Ordered writers split Write into Prepare, the costly part (compression)
  // that the copy engine runs in parallel and out of order, and
  // WritePrepared, which it then calls in offset order.
  virtual Result<std::vector<uint8_t>> Prepare(uint64_t offset, std::span<const uint8_t> data) {
    (void)offset;
    return std::vector<uint8_t>(data.begin(), data.end());
  }
  virtual Status WritePrepared(uint64_t offset, std::vector<uint8_t> prepared) {
    return Write(offset, prepared);
  }
  // Makes a range read as zeros even over a backing file.
  virtual Status WriteZeroes(uint64_t offset, uint64_t length) = 0;
  // Writes the metadata and flushes everything to stable storage. The image
  // is valid only after this returns OK.
  virtual Status Finish() = 0;

  // Resumable writers (for convert checkpoints): SaveState returns what,
  // together with the bytes already in the file, lets ResumeImage carry on
  // writing the image; it is called only while no write is in flight, after
  // Flush. nullopt: this writer cannot resume.
  virtual Result<std::optional<std::vector<uint8_t>>> SaveState() {
    return std::optional<std::vector<uint8_t>>();
  }
  // Puts the data written so far on stable storage (unless -t unsafe).
  virtual Status Flush() { return OkStatus(); }
};

// Creates `path` (which must not exist) as an empty image of `size` bytes.
Result<std::unique_ptr<ImageWriter>> CreateImage(Format format, const std::string& path,
                                                 uint64_t size, const CreateOptions& options);
// Reopens `path`, written by CreateImage with the same arguments up to the
// point where SaveState returned `state`, to continue writing it.
Result<std::unique_ptr<ImageWriter>> ResumeImage(Format format, const std::string& path,
                                                 uint64_t size, const CreateOptions& options,
                                                 std::span<const uint8_t> state);

}  // namespace ferry::image
