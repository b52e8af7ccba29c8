// virtio-blk (virtio 1.x, 5.2) on a raw image: read, write, flush, discard
// (punch a hole), write zeroes (zero range, or punch with the unmap flag),
// get id. Requests run on the transport's worker thread and move data with
// preadv/pwritev straight between the image and guest buffers.
#pragma once

#include <cstdint>
#include <string>

#include "devices/block/raw_disk.h"
#include "devices/virtio/virtio_device.h"

namespace ferry {

namespace virtio_blk {
inline constexpr int kFeatureSegMax = 2;
inline constexpr int kFeatureRo = 5;
inline constexpr int kFeatureBlkSize = 6;
inline constexpr int kFeatureFlush = 9;
inline constexpr int kFeatureDiscard = 13;
inline constexpr int kFeatureWriteZeroes = 14;
inline constexpr uint32_t kTypeIn = 0, kTypeOut = 1, kTypeFlush = 4, kTypeGetId = 8,
                          kTypeDiscard = 11, kTypeWriteZeroes = 13;
inline constexpr uint8_t kStatusOk = 0, kStatusIoErr = 1, kStatusUnsupported = 2;
inline constexpr uint32_t kMaxSegments = 16;  // discard / write-zeroes ranges per request
inline constexpr uint32_t kMaxSectorsPerRange = 0x3fffff;
}  // namespace virtio_blk

// The device's own state (the transport's is VirtioPciState): what the guest
// has seen of the disk. Restore refuses an image of a different size.
struct BlockState {
  uint64_t capacity_sectors = 0;
  bool read_only = false;
  std::string serial;
};

class VirtioBlock final : public VirtioDevice {
 public:
  explicit VirtioBlock(RawDisk disk);

  uint32_t device_type() const override;
  uint64_t device_features() const override;
  uint16_t num_queues() const override { return 1; }
  uint32_t pci_class() const override { return 0x018000; }  // mass storage, other
  void ReadConfig(uint64_t offset, std::span<uint8_t> data) const override;
  Result<uint32_t> HandleRequest(uint16_t queue, const DescriptorChain& chain,
                                 GuestMemory& memory) override;

  const RawDisk& disk() const { return disk_; }
  BlockState Save() const { return {capacity_sectors_, disk_.read_only(), serial_}; }
  Status Restore(const BlockState& state);

 private:
  struct Request;
  uint8_t Read(const Request& r, GuestMemory& memory, uint32_t* written);
  uint8_t Write(const Request& r, const GuestMemory& memory);
  uint8_t Flush();
  uint8_t GetId(const Request& r, GuestMemory& memory, uint32_t* written);
  uint8_t DiscardOrZero(const Request& r, const GuestMemory& memory, bool zero);
  bool InRange(uint64_t sector, uint64_t sectors) const;

  RawDisk disk_;
  uint64_t capacity_sectors_;
  std::string serial_;
  bool warned_ = false;
};

}  // namespace ferry
