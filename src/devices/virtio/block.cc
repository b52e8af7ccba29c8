#include "devices/virtio/block.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "devices/virtio/chain_io.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

using namespace virtio_blk;

constexpr uint64_t kSector = 512;
constexpr size_t kIdBytes = 20;

struct RequestHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};
static_assert(sizeof(RequestHeader) == 16);

struct RangeSegment {  // virtio_blk_discard_write_zeroes
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;  // bit 0: unmap (write zeroes only)
};
static_assert(sizeof(RangeSegment) == 16);

// struct virtio_blk_config, the fields ferry fills in (5.2.4).
struct __attribute__((packed)) Config {
  uint64_t capacity;
  uint32_t size_max;
  uint32_t seg_max;
  uint8_t geometry[4];
  uint32_t blk_size;
  uint8_t topology[8];
  uint8_t writeback;
  uint8_t unused0;
  uint16_t num_queues;
  uint32_t max_discard_sectors;
  uint32_t max_discard_seg;
  uint32_t discard_sector_alignment;
  uint32_t max_write_zeroes_sectors;
  uint32_t max_write_zeroes_seg;
  uint8_t write_zeroes_may_unmap;
  uint8_t unused1[3];
};
static_assert(sizeof(Config) == 60);

}  // namespace

struct VirtioBlock::Request {
  RequestHeader header;
  std::vector<GuestRange> out;  // device-readable data after the header
  std::vector<GuestRange> in;   // device-writable data before the status byte
};

VirtioBlock::VirtioBlock(RawDisk disk)
    : disk_(std::move(disk)), capacity_sectors_(disk_.size() / kSector), serial_(disk_.serial()) {}

uint32_t VirtioBlock::device_type() const {
  return virtio::kDeviceBlock;
}

uint64_t VirtioBlock::device_features() const {
  uint64_t features = virtio::Bit(kFeatureSegMax) | virtio::Bit(kFeatureBlkSize) |
                      virtio::Bit(kFeatureFlush) | virtio::Bit(kFeatureDiscard) |
                      virtio::Bit(kFeatureWriteZeroes);
  if (disk_.read_only()) features |= virtio::Bit(kFeatureRo);
  return features;
}

void VirtioBlock::ReadConfig(uint64_t offset, std::span<uint8_t> data) const {
  Config c{};
  c.capacity = capacity_sectors_;
  c.seg_max = max_queue_size() - 2;  // a request's header and status take two
  c.blk_size = kSector;
  c.num_queues = 1;
  c.max_discard_sectors = kMaxSectorsPerRange;
  c.max_discard_seg = kMaxSegments;
  c.discard_sector_alignment = 4096 / kSector;
  c.max_write_zeroes_sectors = kMaxSectorsPerRange;
  c.max_write_zeroes_seg = kMaxSegments;
  c.write_zeroes_may_unmap = 1;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&c);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < sizeof c ? bytes[offset + i] : 0;
  }
}

Status VirtioBlock::Restore(const BlockState& state) {
  if (state.capacity_sectors != capacity_sectors_) {
    return Error(ErrorCode::kFailedPrecondition,
                 "--disk " + disk_.path() + " has " + std::to_string(capacity_sectors_) +
                     " sectors, the saved VM's disk had " + std::to_string(state.capacity_sectors));
  }
  if (state.read_only != disk_.read_only()) {
    return Error(ErrorCode::kFailedPrecondition,
                 "--disk " + disk_.path() + ": the saved VM had this disk " +
                     (state.read_only ? "read-only (add ,readonly)" : "read-write"));
  }
  if (state.serial.size() > kIdBytes) return Error(ErrorCode::kCorrupt, "disk serial too long");
  serial_ = state.serial;  // the guest keeps seeing the id it saw
  return OkStatus();
}

bool VirtioBlock::InRange(uint64_t sector, uint64_t sectors) const {
  return sector <= capacity_sectors_ && sectors <= capacity_sectors_ - sector;
}

Result<uint32_t> VirtioBlock::HandleRequest(uint16_t, const DescriptorChain& chain,
                                            GuestMemory& memory) {
  if (chain.writable_bytes == 0) {
    return Error(ErrorCode::kCorrupt, "virtio-blk request without a status byte");
  }
  std::vector<GuestRange> status_byte = SliceRanges(chain.writable, chain.writable_bytes - 1, 1);
  uint8_t status = kStatusIoErr;
  uint32_t written = 0;
  if (chain.readable_bytes >= sizeof(RequestHeader)) {
    Request r;
    RETURN_IF_ERROR(CopyFromGuest(memory, chain.readable,
                                  {reinterpret_cast<uint8_t*>(&r.header), sizeof r.header}));
    r.out = SliceRanges(chain.readable, sizeof r.header, chain.readable_bytes - sizeof r.header);
    r.in = SliceRanges(chain.writable, 0, chain.writable_bytes - 1);
    switch (r.header.type) {
      case kTypeIn:
        status = Read(r, memory, &written);
        break;
      case kTypeOut:
        status = Write(r, memory);
        break;
      case kTypeFlush:
        status = Flush();
        break;
      case kTypeGetId:
        status = GetId(r, memory, &written);
        break;
      case kTypeDiscard:
        status = DiscardOrZero(r, memory, false);
        break;
      case kTypeWriteZeroes:
        status = DiscardOrZero(r, memory, true);
        break;
      default:
        status = kStatusUnsupported;
    }
  }
  RETURN_IF_ERROR(memory.Write(status_byte[0].gpa, {&status, 1}));
  return written + 1;
}

uint8_t VirtioBlock::Read(const Request& r, GuestMemory& memory, uint32_t* written) {
  uint64_t len = TotalBytes(r.in);
  if (len % kSector != 0 || !InRange(r.header.sector, len / kSector)) return kStatusIoErr;
  int fd = disk_.fd();
  uint64_t at = r.header.sector * kSector;
  Result<size_t> done = memory.WriteWith(
      r.in, [fd, at](std::span<const iovec> iov) { return PreadAll(fd, iov, at); });
  if (!done.ok() || *done != len) return kStatusIoErr;
  *written = static_cast<uint32_t>(len);
  return kStatusOk;
}

uint8_t VirtioBlock::Write(const Request& r, const GuestMemory& memory) {
  if (disk_.read_only()) return kStatusIoErr;
  uint64_t len = TotalBytes(r.out);
  if (len % kSector != 0 || !InRange(r.header.sector, len / kSector)) return kStatusIoErr;
  Result<std::vector<iovec>> iov = ReadableIovecs(memory, r.out);
  if (!iov.ok()) return kStatusIoErr;
  Result<size_t> done = PwriteAll(disk_.fd(), *iov, r.header.sector * kSector);
  return done.ok() && *done == len ? kStatusOk : kStatusIoErr;
}

uint8_t VirtioBlock::Flush() {
  return ::fdatasync(disk_.fd()) == 0 ? kStatusOk : kStatusIoErr;
}

uint8_t VirtioBlock::GetId(const Request& r, GuestMemory& memory, uint32_t* written) {
  uint8_t id[kIdBytes] = {};
  std::memcpy(id, serial_.data(), std::min(serial_.size(), kIdBytes));
  std::vector<GuestRange> target = SliceRanges(r.in, 0, kIdBytes);
  uint32_t done = 0;
  for (const GuestRange& range : target) {
    if (!memory.Write(range.gpa, {id + done, range.len}).ok()) return kStatusIoErr;
    done += range.len;
  }
  *written = done;
  return kStatusOk;
}

uint8_t VirtioBlock::DiscardOrZero(const Request& r, const GuestMemory& memory, bool zero) {
  if (disk_.read_only()) return kStatusIoErr;
  uint64_t bytes = TotalBytes(r.out);
  if (bytes == 0 || bytes % sizeof(RangeSegment) != 0 ||
      bytes / sizeof(RangeSegment) > kMaxSegments) {
    return kStatusUnsupported;
  }
  std::vector<RangeSegment> segments(bytes / sizeof(RangeSegment));
  if (!CopyFromGuest(memory, r.out, {reinterpret_cast<uint8_t*>(segments.data()), bytes}).ok()) {
    return kStatusIoErr;
  }
  for (const RangeSegment& s : segments) {
    uint32_t allowed = zero ? 1u : 0u;  // unmap is meaningful for write zeroes only
    if ((s.flags & ~allowed) != 0 || s.num_sectors > kMaxSectorsPerRange) {
      return kStatusUnsupported;
    }
    if (!InRange(s.sector, s.num_sectors)) return kStatusIoErr;
  }
  for (const RangeSegment& s : segments) {
    off_t at = static_cast<off_t>(s.sector * kSector);
    off_t len = static_cast<off_t>(uint64_t{s.num_sectors} * kSector);
    int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    int rc;
    if (!zero) {
      // Discard is a hint: a file system without hole punching keeps the data.
      rc = ::fallocate(disk_.fd(), punch, at, len);
      if (rc < 0 && errno == EOPNOTSUPP) rc = 0;
    } else if (s.flags & 1) {
      rc = ::fallocate(disk_.fd(), punch, at, len);
      if (rc < 0 && errno == EOPNOTSUPP)
        rc = ::fallocate(disk_.fd(), FALLOC_FL_ZERO_RANGE, at, len);
    } else {
      rc = ::fallocate(disk_.fd(), FALLOC_FL_ZERO_RANGE, at, len);
      if (rc < 0 && errno == EOPNOTSUPP) rc = ::fallocate(disk_.fd(), punch, at, len);
    }
    if (rc < 0) {
      if (!warned_) {
        warned_ = true;
        std::fprintf(stderr, "ferry: %s: fallocate: %s\n", disk_.path().c_str(),
                     strerrordesc_np(errno));
      }
      return kStatusIoErr;
    }
  }
  return kStatusOk;
}

}  // namespace ferry
