#include "rt/virtio_blk.h"

#include "rt/arena.h"
#include "rt/virtio_device.h"

namespace guest::virtio {
namespace {

constexpr const char* kDriver = "virtio-blk";

// Feature bits (spec 5.2.3).
constexpr int kFSizeMax = 1;
constexpr int kFSegMax = 2;
constexpr int kFRo = 5;
constexpr int kFBlkSize = 6;
constexpr int kFFlush = 9;
constexpr int kFDiscard = 13;
constexpr int kFWriteZeroes = 14;

// struct virtio_blk_config offsets (spec 5.2.4).
constexpr uint32_t kCfgCapacity = 0;
constexpr uint32_t kCfgSizeMax = 8;
constexpr uint32_t kCfgSegMax = 12;
constexpr uint32_t kCfgBlkSize = 20;
constexpr uint32_t kCfgMaxDiscardSectors = 36;
constexpr uint32_t kCfgMaxWriteZeroesSectors = 48;

constexpr uint64_t bit(int n) {
  return 1ull << n;
}

}  // namespace

const char* blk_status_name(uint8_t status) {
  switch (status) {
    case kBlkOk:
      return "OK";
    case kBlkIoErr:
      return "IOERR";
    case kBlkUnsupp:
      return "UNSUPP";
    case kBlkReadOnly:
      return "READ_ONLY";
    case kBlkNotOffered:
      return "NOT_OFFERED";
    case kBlkBadRequest:
      return "BAD_REQUEST";
    default:
      return "NO_STATUS";
  }
}

const char* blk_type_name(uint32_t type) {
  switch (type) {
    case kBlkIn:
      return "read";
    case kBlkOut:
      return "write";
    case kBlkFlush:
      return "flush";
    case kBlkGetId:
      return "get_id";
    case kBlkDiscard:
      return "discard";
    case kBlkWriteZeroes:
      return "write_zeroes";
    default:
      return "?";
  }
}

void BlkDevice::open(Transport& t, int max_in_flight) {
  transport_ = &t;
  features_ = negotiate(t,
                        kFEventIdx | bit(kFSizeMax) | bit(kFSegMax) | bit(kFRo) | bit(kFBlkSize) |
                            bit(kFFlush) | bit(kFDiscard) | bit(kFWriteZeroes),
                        kDriver);
  sectors_ = t.config64(kCfgCapacity);
  if (has(kFBlkSize)) block_size_ = t.config32(kCfgBlkSize);
  if (block_size_ < 512) block_size_ = 512;
  if (has(kFSegMax)) {
    uint32_t seg_max = t.config32(kCfgSegMax);
    if (seg_max != 0 && seg_max < seg_max_) seg_max_ = seg_max;
  }
  if (has(kFSizeMax)) size_max_ = t.config32(kCfgSizeMax);
  if (has(kFDiscard)) max_discard_sectors_ = t.config32(kCfgMaxDiscardSectors);
  if (has(kFWriteZeroes)) max_write_zeroes_sectors_ = t.config32(kCfgMaxWriteZeroesSectors);
  if (max_in_flight > kMaxInFlight) max_in_flight = kMaxInFlight;
  if (max_in_flight < 1) max_in_flight = 1;
  // Each request takes a header, its data segments and the status descriptor.
  setup_queue(t, vq_, 0, Virtqueue::kMaxSize, features_, kDriver);
  slots_ = arena::alloc_array<Slot>(static_cast<uint64_t>(max_in_flight));
  for (int i = max_in_flight - 1; i >= 0; --i) free_slots_[free_slot_count_++] = i;
  driver_ok(t);
  check_device(t, kDriver);
}

bool BlkDevice::read_only() const {
  return has(kFRo);
}

uint8_t BlkDevice::submit(uint32_t type, uint64_t sector, void* data, uint32_t bytes,
                          uint64_t cookie) {
  bool writes = type == kBlkOut || type == kBlkDiscard || type == kBlkWriteZeroes;
  if (writes && read_only()) return kBlkReadOnly;
  if ((type == kBlkFlush && !has(kFFlush)) || (type == kBlkDiscard && !has(kFDiscard)) ||
      (type == kBlkWriteZeroes && !has(kFWriteZeroes))) {
    return kBlkNotOffered;
  }
  bool ranged = type != kBlkFlush && type != kBlkGetId;
  if (ranged &&
      (bytes % kSectorSize != 0 || sector > sectors_ || bytes / kSectorSize > sectors_ - sector)) {
    return kBlkBadRequest;
  }
  if (free_slot_count_ == 0) return kBlkBadRequest;

  Segment segs[kMaxDataSegments + 2];
  int n = 0;
  int slot_index = free_slots_[free_slot_count_ - 1];
  Slot& slot = slots_[slot_index];
  slot.type = type;
  slot.reserved = 0;
  slot.sector = (type == kBlkIn || type == kBlkOut) ? sector : 0;
  slot.status = kBlkNoStatus;  // so a chain returned without a status shows as such
  slot.cookie = cookie;
  segs[n++] = Segment{arena::address_of(&slot), 16, false};
  if (type == kBlkDiscard || type == kBlkWriteZeroes) {
    slot.range_sector = sector;
    slot.range_sectors = bytes / kSectorSize;
    slot.range_flags = 0;  // WRITE_ZEROES: no unmap
    segs[n++] = Segment{arena::address_of(&slot.range_sector), 16, false};
  } else if (type != kBlkFlush) {
    uint64_t address = arena::address_of(data);
    for (uint32_t left = bytes; left > 0;) {
      uint32_t chunk = size_max_ != 0 && left > size_max_ ? size_max_ : left;
      if (n - 1 == static_cast<int>(seg_max_)) return kBlkBadRequest;
      segs[n++] = Segment{address, chunk, type != kBlkOut};
      address += chunk;
      left -= chunk;
    }
  }
  segs[n++] = Segment{arena::address_of(&slot.status), 1, true};
  if (!vq_.add(segs, n, static_cast<uint64_t>(slot_index))) return kBlkBadRequest;
  --free_slot_count_;
  ++in_flight_;
  return kBlkOk;
}

uint8_t BlkDevice::complete(const Used& used, uint64_t* cookie) {
  int slot_index = static_cast<int>(used.cookie);
  Slot& slot = slots_[slot_index];
  *cookie = slot.cookie;
  free_slots_[free_slot_count_++] = slot_index;
  --in_flight_;
  return slot.status;
}

bool BlkDevice::poll(uint64_t* cookie, uint8_t* status) {
  Used used;
  if (!vq_.poll(&used)) return false;
  *status = complete(used, cookie);
  return true;
}

void BlkDevice::wait(uint64_t* cookie, uint8_t* status) {
  Used used = wait_used(*transport_, vq_, kDriver);
  *status = complete(used, cookie);
}

uint8_t BlkDevice::run(uint32_t type, uint64_t sector, void* data, uint32_t bytes) {
  uint8_t refused = submit(type, sector, data, bytes, 0);
  if (refused != kBlkOk) return refused;
  kick();
  uint64_t cookie;
  uint8_t status;
  wait(&cookie, &status);
  return status;
}

}  // namespace guest::virtio
