// VHDX writer: dynamic disks after [MS-VHDX], the layout qemu-img and
// Hyper-V read. The first MiB holds the file identifier, two headers and two
// copies of the region table; then an empty log (1 MiB), the metadata region
// (1 MiB), the BAT, and payload blocks in the order they are first written.
// A block is allocated whole on its first write; the parts never written are
// holes in the host file and read as zeros. The BAT is written by Finish.
#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "base/crc32c.h"
#include "base/endian.h"
#include "image/file.h"
#include "image/vhdx.h"
#include "image/vhdx_format.h"

namespace ferry::image {
namespace {

using namespace vhdx;

constexpr uint64_t kLogOffset = kMiB;
constexpr uint64_t kLogLength = kMiB;
constexpr uint64_t kMetadataOffset = 2 * kMiB;
constexpr uint64_t kMetadataLength = kMiB;
constexpr uint64_t kBatOffset = 3 * kMiB;
constexpr uint32_t kDefaultBlockSize = 32 << 20;  // Hyper-V's default
constexpr uint32_t kLogicalSector = 512;
constexpr uint32_t kPhysicalSector = 4096;
constexpr uint64_t kWriteUnit = kMiB;

Guid RandomGuid() {
  Guid g{};
  size_t got = 0;
  while (got < g.size()) {
    ssize_t n = ::getrandom(g.data() + got, g.size() - got, 0);
    if (n > 0) got += size_t(n);
  }
  g[7] = uint8_t((g[7] & 0x0f) | 0x40);  // version 4 (Data3's high byte, stored little-endian)
  g[8] = uint8_t((g[8] & 0x3f) | 0x80);
  return g;
}

// CRC32C with the 4-byte checksum field at `at` taken as zero, stored there.
void Seal(std::vector<uint8_t>& buf, size_t at) {
  std::memset(&buf[at], 0, 4);
  StoreLE32(&buf[at], Crc32c(buf));
}

std::vector<uint8_t> FileIdentifier() {
  std::vector<uint8_t> id(64 << 10, 0);
  std::memcpy(id.data(), "vhdxfile", 8);
  const char creator[] = "ferry";
  for (size_t i = 0; i + 1 < sizeof creator; ++i) id[8 + 2 * i] = uint8_t(creator[i]);
  return id;
}

std::vector<uint8_t> HeaderBytes(uint64_t sequence, const Guid& file_write,
                                 const Guid& data_write) {
  std::vector<uint8_t> h(kHeaderSize, 0);
  std::memcpy(h.data(), "head", 4);
  StoreLE64(&h[8], sequence);
  std::memcpy(&h[16], file_write.data(), 16);
  std::memcpy(&h[32], data_write.data(), 16);
  // Log GUID zero: nothing to replay.
  StoreLE16(&h[64], 0);  // log version
  StoreLE16(&h[66], 1);  // version
  StoreLE32(&h[68], uint32_t(kLogLength));
  StoreLE64(&h[72], kLogOffset);
  Seal(h, 4);
  return h;
}

std::vector<uint8_t> RegionTable(uint64_t bat_length) {
  static const Guid kBat = GuidFromString("2DC27766-F623-4200-9D64-115E9BFD4A08");
  static const Guid kMetadata = GuidFromString("8B7CA206-4790-4B9A-B8FE-575F050F886E");
  std::vector<uint8_t> t(kRegionTableSize, 0);
  std::memcpy(t.data(), "regi", 4);
  StoreLE32(&t[8], 2);
  auto entry = [&](size_t at, const Guid& id, uint64_t offset, uint64_t length) {
    std::memcpy(&t[at], id.data(), 16);
    StoreLE64(&t[at + 16], offset);
    StoreLE32(&t[at + 24], uint32_t(length));
    StoreLE32(&t[at + 28], 1);  // required
  };
  entry(16, kBat, kBatOffset, bat_length);
  entry(48, kMetadata, kMetadataOffset, kMetadataLength);
  Seal(t, 4);
  return t;
}

std::vector<uint8_t> MetadataRegion(uint32_t block_size, uint64_t size) {
  struct Item {
    const char* id;
    std::vector<uint8_t> data;
    uint32_t flags;  // 2: virtual disk item, 4: required
  };
  std::vector<uint8_t> params(8, 0), vsize(8), lss(4), pss(4);
  StoreLE32(&params[0], block_size);  // flags 0: dynamic, no parent
  StoreLE64(&vsize[0], size);
  StoreLE32(&lss[0], kLogicalSector);
  StoreLE32(&pss[0], kPhysicalSector);
  const Guid page83 = RandomGuid();
  const Item items[] = {
      {"CAA16737-FA36-4D43-B3B6-33F0AA44E76B", params, 4},
      {"2FA54224-CD1B-4876-B211-5DBED83BF4B8", vsize, 6},
      {"BECA12AB-B2E6-4523-93EF-C309E000C746", {page83.begin(), page83.end()}, 6},
      {"8141BF1D-A96F-4709-BA47-F233A8FAAB5F", lss, 6},
      {"CDA348C7-445D-4471-9CC9-E9885251C556", pss, 6},
  };
  std::vector<uint8_t> region(kMetadataLength, 0);
  std::memcpy(region.data(), "metadata", 8);
  StoreLE16(&region[10], uint16_t(std::size(items)));
  uint32_t at = kMetadataTableSize;
  for (size_t i = 0; i < std::size(items); ++i) {
    uint8_t* e = &region[32 + 32 * i];
    const Guid id = GuidFromString(items[i].id);
    std::memcpy(e, id.data(), 16);
    StoreLE32(e + 16, at);
    StoreLE32(e + 20, uint32_t(items[i].data.size()));
    StoreLE32(e + 24, items[i].flags);
    std::memcpy(&region[at], items[i].data.data(), items[i].data.size());
    at += uint32_t((items[i].data.size() + 7) / 8 * 8);
  }
  return region;
}

class VhdxWriter : public ImageWriter {
 public:
  VhdxWriter(ImageFile file, uint64_t size, uint32_t block_size)
      : file_(std::move(file)), size_(size) {
    m_.block_size = block_size;
    m_.virtual_size = size;
    m_.logical_sector_size = kLogicalSector;
    m_.physical_sector_size = kPhysicalSector;
    blocks_.assign(DataBlocks(m_), 0);
    bat_length_ = (BatEntries(m_) * 8 + kMiB - 1) / kMiB * kMiB;
    if (bat_length_ == 0) bat_length_ = kMiB;
    next_ = kBatOffset + bat_length_;
  }

  uint64_t granularity() const override { return std::min<uint64_t>(kWriteUnit, m_.block_size); }

  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    for (uint64_t pos = 0; pos < data.size();) {
      const uint64_t at = offset + pos;
      const uint64_t in_block = at % m_.block_size;
      const uint64_t n = std::min<uint64_t>(data.size() - pos, m_.block_size - in_block);
      uint64_t host;
      {
        std::lock_guard lock(mu_);
        uint64_t& block = blocks_[at / m_.block_size];
        if (block == 0) {
          block = next_;
          next_ += m_.block_size;
        }
        host = block;
      }
      RETURN_IF_ERROR(file_.WriteAt(host + in_block, data.subspan(pos, n)));
      pos += n;
    }
    return OkStatus();
  }

  Status WriteZeroes(uint64_t, uint64_t) override { return OkStatus(); }  // unallocated reads zero

  Status Finish() override {
    const Guid file_write = RandomGuid(), data_write = RandomGuid();
    RETURN_IF_ERROR(file_.WriteAt(0, FileIdentifier()));
    RETURN_IF_ERROR(file_.WriteAt(kHeaderOffset[0], HeaderBytes(0, file_write, data_write)));
    RETURN_IF_ERROR(file_.WriteAt(kHeaderOffset[1], HeaderBytes(1, file_write, data_write)));
    const std::vector<uint8_t> regions = RegionTable(bat_length_);
    RETURN_IF_ERROR(file_.WriteAt(kRegionTableOffset[0], regions));
    RETURN_IF_ERROR(file_.WriteAt(kRegionTableOffset[1], regions));
    RETURN_IF_ERROR(file_.WriteAt(kMetadataOffset, MetadataRegion(m_.block_size, size_)));
    std::vector<uint8_t> bat(bat_length_, 0);
    const uint64_t ratio = ChunkRatio(m_);
    for (uint64_t b = 0; b < blocks_.size(); ++b) {
      if (blocks_[b] == 0) continue;  // 0: PAYLOAD_BLOCK_NOT_PRESENT
      StoreLE64(&bat[PayloadIndex(b, ratio) * 8], (blocks_[b] / kMiB) << 20 | kPayloadFullyPresent);
    }
    RETURN_IF_ERROR(file_.WriteAt(kBatOffset, bat));
    // Every allocated block lies whole inside the file, holes included.
    RETURN_IF_ERROR(file_.Truncate(next_));
    return file_.Sync();
  }

  Status Flush() override { return file_.Sync(); }

 private:
  ImageFile file_;
  uint64_t size_;
  Metadata m_;
  uint64_t bat_length_ = 0;
  std::mutex mu_;
  std::vector<uint64_t> blocks_;  // host offset of each payload block, 0 = not written
  uint64_t next_ = 0;
};

}  // namespace

Result<std::unique_ptr<ImageWriter>> CreateVhdx(const std::string& path, uint64_t size,
                                                const CreateOptions& options) {
  if (!options.subformat.empty() && options.subformat != "dynamic") {
    return Error(ErrorCode::kUnimplemented,
                 "vhdx subformat '" + options.subformat + "' is not written (dynamic is)");
  }
  const uint64_t block = options.cluster_size ? options.cluster_size : kDefaultBlockSize;
  if (block < kMiB || block > 256 * kMiB || (block & (block - 1))) {
    return Error(ErrorCode::kInvalidArgument,
                 "vhdx block size must be a power of two from 1M to 256M (-o cluster_size=)");
  }
  if (size % kLogicalSector || size > kMaxVirtualSize) {
    return Error(ErrorCode::kInvalidArgument,
                 "vhdx virtual size must be a multiple of 512 bytes, at most 64 TiB");
  }
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Create(path));
  if (!options.flush) file.DisableSync();
  return std::unique_ptr<ImageWriter>(new VhdxWriter(std::move(file), size, uint32_t(block)));
}

}  // namespace ferry::image
