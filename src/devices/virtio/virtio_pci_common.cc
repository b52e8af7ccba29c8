// The common configuration structure (virtio 1.x, 4.1.4.3) and the device
// status state machine (2.1, 3.1).
#include <cstring>

#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

constexpr uint32_t kImageSize = 0x38;

// Fields by offset and width; the 64-bit ring addresses are two halves.
struct Field {
  uint32_t offset;
  uint32_t size;
};
constexpr Field kFields[] = {
    {0x00, 4}, {0x04, 4}, {0x08, 4}, {0x0c, 4}, {0x10, 2}, {0x12, 2}, {0x14, 1},
    {0x15, 1}, {0x16, 2}, {0x18, 2}, {0x1a, 2}, {0x1c, 2}, {0x1e, 2}, {0x20, 4},
    {0x24, 4}, {0x28, 4}, {0x2c, 4}, {0x30, 4}, {0x34, 4},
};

template <typename T>
void Put(std::vector<uint8_t>& image, uint32_t offset, T value) {
  std::memcpy(&image[offset], &value, sizeof value);
}

void SetHalf(uint64_t& target, bool high, uint32_t value) {
  target =
      high ? (target & 0xffffffffull) | (uint64_t{value} << 32) : (target & ~0xffffffffull) | value;
}

}  // namespace

std::vector<uint8_t> VirtioPciTransport::CommonImage() {
  std::vector<uint8_t> image(kImageSize, 0);
  Put<uint32_t>(image, 0x00, device_feature_select_);
  uint32_t device_half = device_feature_select_ == 0   ? static_cast<uint32_t>(offered_)
                         : device_feature_select_ == 1 ? static_cast<uint32_t>(offered_ >> 32)
                                                       : 0;
  Put<uint32_t>(image, 0x04, device_half);
  Put<uint32_t>(image, 0x08, driver_feature_select_);
  uint32_t driver_half = driver_feature_select_ == 0 ? static_cast<uint32_t>(driver_features_)
                         : driver_feature_select_ == 1
                             ? static_cast<uint32_t>(driver_features_ >> 32)
                             : 0;
  Put<uint32_t>(image, 0x0c, driver_half);
  Put<uint16_t>(image, 0x10, config_msix_vector_);
  Put<uint16_t>(image, 0x12, static_cast<uint16_t>(queues_.size()));
  Put<uint8_t>(image, 0x14, status_.load());
  Put<uint8_t>(image, 0x15, config_generation_);
  Put<uint16_t>(image, 0x16, queue_select_);
  if (queue_select_ < queues_.size()) {
    const QueueState& q = queues_[queue_select_].state();
    Put<uint16_t>(image, 0x18, q.size);
    Put<uint16_t>(image, 0x1a, q.msix_vector);
    Put<uint16_t>(image, 0x1c, q.enabled);
    Put<uint16_t>(image, 0x1e, queue_select_);  // notify at notify base + 4 * index
    Put<uint64_t>(image, 0x20, q.desc_addr);
    Put<uint64_t>(image, 0x28, q.avail_addr);
    Put<uint64_t>(image, 0x30, q.used_addr);
  } else {
    Put<uint16_t>(image, 0x1a, virtio::kNoVector);
  }
  return image;
}

void VirtioPciTransport::CommonRead(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  std::vector<uint8_t> image = CommonImage();
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = offset + i < kImageSize ? image[offset + i] : 0;
  }
}

void VirtioPciTransport::CommonWrite(uint64_t offset, std::span<const uint8_t> data) {
  // Status writes stop or start the worker and reset queues: wait for any
  // request in flight first (work_mu_ before mu_, as everywhere).
  std::lock_guard work(work_mu_);
  std::lock_guard lock(mu_);
  if (offset >= kImageSize) return;
  std::vector<uint8_t> image = CommonImage();
  size_t len = std::min<size_t>(data.size(), kImageSize - offset);
  std::memcpy(&image[offset], data.data(), len);
  for (const Field& field : kFields) {
    if (field.offset >= offset + len || field.offset + field.size <= offset) continue;
    uint32_t value = 0;
    std::memcpy(&value, &image[field.offset], field.size);
    ApplyCommonField(field.offset, value);
  }
}

void VirtioPciTransport::ApplyCommonField(uint32_t field, uint64_t value) {
  Virtqueue* queue = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
  QueueState* q = queue ? &queue->state() : nullptr;
  uint8_t status = status_.load();
  // Queue layout is the driver's to set only before DRIVER_OK and while the
  // queue is not enabled (4.1.4.3.2).
  bool layout_open = q && !(status & virtio::kStatusDriverOk) && !q->enabled;
  auto vector = [&](uint64_t v) {
    return v < msix_.vectors() ? static_cast<uint16_t>(v) : virtio::kNoVector;
  };
  switch (field) {
    case 0x00:
      device_feature_select_ = static_cast<uint32_t>(value);
      break;
    case 0x08:
      driver_feature_select_ = static_cast<uint32_t>(value);
      break;
    case 0x0c:
      if (!(status & virtio::kStatusFeaturesOk) && driver_feature_select_ < 2) {
        SetHalf(driver_features_, driver_feature_select_ == 1, static_cast<uint32_t>(value));
      }
      break;
    case 0x10:
      config_msix_vector_ = vector(value);
      break;
    case 0x14:
      WriteStatus(static_cast<uint8_t>(value));
      break;
    case 0x16:
      queue_select_ = static_cast<uint16_t>(value);
      break;
    case 0x18:
      if (layout_open) q->size = static_cast<uint16_t>(value);
      break;
    case 0x1a:
      if (q) q->msix_vector = vector(value);
      break;
    case 0x1c:
      if (layout_open && value == 1) q->enabled = 1;
      break;
    case 0x20:
    case 0x24:
      if (layout_open) SetHalf(q->desc_addr, field == 0x24, static_cast<uint32_t>(value));
      break;
    case 0x28:
    case 0x2c:
      if (layout_open) SetHalf(q->avail_addr, field == 0x2c, static_cast<uint32_t>(value));
      break;
    case 0x30:
    case 0x34:
      if (layout_open) SetHalf(q->used_addr, field == 0x34, static_cast<uint32_t>(value));
      break;
    default:  // read-only: device_feature, num_queues, config_generation, notify_off
      break;
  }
}

void VirtioPciTransport::WriteStatus(uint8_t value) {
  if (value == 0) return ResetLocked();
  uint8_t current = status_.load();
  if ((value & virtio::kStatusFeaturesOk) && !(current & virtio::kStatusFeaturesOk)) {
    // FEATURES_OK only sticks for a subset of what was offered that includes
    // VERSION_1 (this is a modern-only device); the driver reads it back.
    bool acceptable = (driver_features_ & ~offered_) == 0 &&
                      (driver_features_ & virtio::Bit(virtio::kFeatureVersion1)) != 0 &&
                      (value & virtio::kStatusDriver);
    if (!acceptable) {
      value &= static_cast<uint8_t>(~virtio::kStatusFeaturesOk);
    } else {
      bool event_idx = (driver_features_ & virtio::Bit(virtio::kFeatureEventIdx)) != 0;
      for (Virtqueue& queue : queues_) queue.set_event_idx(event_idx);
    }
  }
  bool starting = (value & virtio::kStatusDriverOk) && !(current & virtio::kStatusDriverOk);
  if (starting && !(value & virtio::kStatusFeaturesOk)) {
    value &= static_cast<uint8_t>(~virtio::kStatusDriverOk);
    starting = false;
  }
  // The driver cannot clear NEEDS_RESET (or anything else) but by a reset.
  status_.store(value | (current & virtio::kStatusNeedsReset));
  if (!starting) return;
  for (size_t i = 0; i < queues_.size(); ++i) {
    if (!queues_[i].state().enabled) continue;
    Status valid = queues_[i].Validate(memory_);
    if (!valid.ok()) {
      NeedsResetLocked("queue " + std::to_string(i) + ": " + valid.error().message());
      return;
    }
  }
  worker_->Kick();
}

void VirtioPciTransport::ResetLocked() {
  device_.Reset();
  for (Virtqueue& queue : queues_) queue.Reset();
  driver_features_ = 0;
  device_feature_select_ = 0;
  driver_feature_select_ = 0;
  config_msix_vector_ = virtio::kNoVector;
  queue_select_ = 0;
  isr_ = 0;
  UpdateIntxLocked();
  status_.store(0);
  warned_ = false;
}

}  // namespace ferry
