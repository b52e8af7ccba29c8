// virtio-blk driver (spec 5.2), polled, several requests in flight on one queue.
//
// A request is a chain: the 16-byte header (type, reserved, sector) the device reads,
// the data (read by the device for writes, written by it for reads and GET_ID; for
// DISCARD and WRITE_ZEROES one 16-byte range), and the status byte the device writes.
// Sectors are always 512 bytes. Features used when offered: RO (writes are then
// refused by the driver, never sent), FLUSH, DISCARD, WRITE_ZEROES, BLK_SIZE, SEG_MAX
// and SIZE_MAX (data split to fit), EVENT_IDX.
#pragma once

#include <stdint.h>

#include "rt/virtio.h"
#include "rt/virtqueue.h"

namespace guest::virtio {

enum BlkType : uint32_t {
  kBlkIn = 0,
  kBlkOut = 1,
  kBlkFlush = 4,
  kBlkGetId = 8,
  kBlkDiscard = 11,
  kBlkWriteZeroes = 13,
};

// Status bytes: the device's three, and the driver's own refusals (never sent).
inline constexpr uint8_t kBlkOk = 0;
inline constexpr uint8_t kBlkIoErr = 1;
inline constexpr uint8_t kBlkUnsupp = 2;
inline constexpr uint8_t kBlkReadOnly = 0xf0;    // a write to a VIRTIO_BLK_F_RO device
inline constexpr uint8_t kBlkNotOffered = 0xf1;  // the device lacks the feature
inline constexpr uint8_t kBlkBadRequest = 0xf2;  // beyond the disk, or too many segments
inline constexpr uint8_t kBlkNoStatus = 0xff;    // the device did not write the status

// "OK", "IOERR", "UNSUPP", "READ_ONLY", "NOT_OFFERED", "BAD_REQUEST", "NO_STATUS".
const char* blk_status_name(uint8_t status);
// "read", "write", "flush", "get_id", "discard", "write_zeroes".
const char* blk_type_name(uint32_t type);

class BlkDevice {
 public:
  static constexpr uint64_t kSectorSize = 512;
  static constexpr int kMaxInFlight = 64;
  static constexpr int kMaxDataSegments = 16;

  // Negotiates, sets up the queue and sets DRIVER_OK. Exits loudly on failure.
  void open(Transport& t, int max_in_flight);

  uint64_t sectors() const { return sectors_; }
  uint64_t features() const { return features_; }
  bool read_only() const;
  bool has(uint64_t feature_bit) const { return (features_ >> feature_bit) & 1; }
  bool can_flush() const { return has(9); }          // VIRTIO_BLK_F_FLUSH
  bool can_discard() const { return has(13); }       // VIRTIO_BLK_F_DISCARD
  bool can_write_zeroes() const { return has(14); }  // VIRTIO_BLK_F_WRITE_ZEROES
  uint32_t block_size() const { return block_size_; }
  // Most sectors one DISCARD / WRITE_ZEROES request may cover (0 without the feature).
  uint32_t max_discard_sectors() const { return max_discard_sectors_; }
  uint32_t max_write_zeroes_sectors() const {
    return max_write_zeroes_sectors_;
  }  // logical block size, 512 if not told
  Transport& transport() { return *transport_; }
  const Virtqueue& queue() const { return vq_; }
  int in_flight() const { return in_flight_; }
  bool can_submit() const { return free_slot_count_ > 0; }

  // Queues a request (visible to the device at kick()). For IN/OUT bytes is a multiple
  // of 512 and data a buffer in guest RAM; for DISCARD/WRITE_ZEROES it gives the range;
  // GET_ID needs 20 bytes. Returns kBlkOk, or a refusal status when the request must not
  // or cannot be sent. cookie comes back from poll().
  uint8_t submit(uint32_t type, uint64_t sector, void* data, uint32_t bytes, uint64_t cookie);
  void kick() { vq_.kick(); }
  // One completed request, if any: its cookie and status.
  bool poll(uint64_t* cookie, uint8_t* status);
  // Waits for the next completion (the wait hook runs meanwhile).
  void wait(uint64_t* cookie, uint8_t* status);

  // One request, waited for.
  uint8_t run(uint32_t type, uint64_t sector, void* data, uint32_t bytes);

 private:
  struct Slot {  // what the device reads and writes besides the data, per request
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
    uint64_t range_sector;  // DISCARD / WRITE_ZEROES segment
    uint32_t range_sectors;
    uint32_t range_flags;
    uint8_t status;
    uint64_t cookie;
  };

  uint8_t complete(const Used& used, uint64_t* cookie);

  Transport* transport_ = nullptr;
  Virtqueue vq_;
  uint64_t features_ = 0;
  uint64_t sectors_ = 0;
  uint32_t block_size_ = 512;
  uint32_t seg_max_ = kMaxDataSegments;
  uint32_t size_max_ = 0;  // 0: no limit
  uint32_t max_discard_sectors_ = 0;
  uint32_t max_write_zeroes_sectors_ = 0;
  Slot* slots_ = nullptr;
  int free_slots_[kMaxInFlight] = {};
  int free_slot_count_ = 0;
  int in_flight_ = 0;
};

}  // namespace guest::virtio
