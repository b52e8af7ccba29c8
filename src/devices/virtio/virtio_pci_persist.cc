// Save and restore of the transport (VirtioPciState). Restore treats the
// state as untrusted: it must describe this very device (type, queue count,
// MSI-X size, BARs) and every queue must be valid in this guest's memory.
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

Error Mismatch(const std::string& name, const std::string& what) {
  return Error(ErrorCode::kCorrupt, name + ": saved state does not fit: " + what);
}

}  // namespace

VirtioPciState VirtioPciTransport::Save() {
  std::lock_guard work(work_mu_);
  std::lock_guard lock(mu_);
  VirtioPciState s;
  s.device_type = device_.device_type();
  s.config = config_.Save();
  s.driver_features = driver_features_;
  s.device_feature_select = device_feature_select_;
  s.driver_feature_select = driver_feature_select_;
  s.config_msix_vector = config_msix_vector_;
  s.queue_select = queue_select_;
  s.status = status_.load();
  s.config_generation = config_generation_;
  s.isr = isr_;
  for (const Virtqueue& queue : queues_) s.queues.push_back(queue.state());
  s.msix = msix_.Save();
  return s;
}

Status VirtioPciTransport::Restore(const VirtioPciState& s) {
  std::lock_guard work(work_mu_);
  std::lock_guard lock(mu_);
  if (s.device_type != device_.device_type()) {
    return Mismatch(name_, "device type " + std::to_string(s.device_type));
  }
  if (s.queues.size() != queues_.size()) {
    return Mismatch(name_, "saved with " + std::to_string(s.queues.size()) +
                               " queues, this device has " + std::to_string(queues_.size()) +
                               " (saved by another version of ferry?)");
  }
  if ((s.driver_features & ~offered_) != 0) {
    return Mismatch(name_, "the driver features were never offered here");
  }
  std::vector<Virtqueue> candidate = queues_;
  bool event_idx = (s.driver_features & virtio::Bit(virtio::kFeatureEventIdx)) != 0;
  for (size_t i = 0; i < candidate.size(); ++i) {
    candidate[i].state() = s.queues[i];
    if (s.queues[i].msix_vector >= msix_.vectors()) {
      candidate[i].state().msix_vector = virtio::kNoVector;
    }
    candidate[i].set_event_idx(event_idx);
    RETURN_IF_ERROR_CTX(candidate[i].ValidateRestored(memory_),
                        name_ + ": saved queue " + std::to_string(i));
  }
  PciConfigSpace config = config_;
  if (!config.Restore(s.config)) return Mismatch(name_, "BAR addresses differ");
  uint16_t control = config.word(msix_cap_ + 2);
  if (!msix_.Restore(s.msix, control)) {
    return Mismatch(name_, std::to_string(s.msix.table.size()) + " MSI-X vectors");
  }
  config_ = config;
  queues_ = std::move(candidate);
  driver_features_ = s.driver_features;
  device_feature_select_ = s.device_feature_select;
  driver_feature_select_ = s.driver_feature_select;
  config_msix_vector_ =
      s.config_msix_vector < msix_.vectors() ? s.config_msix_vector : virtio::kNoVector;
  queue_select_ = s.queue_select;
  status_.store(s.status);
  config_generation_ = s.config_generation;
  isr_ = s.isr;
  intx_level_ = false;
  UpdateIntxLocked();  // a pending INTx is asserted again here
  worker_->Kick();     // buffers made available before the save are served
  return OkStatus();
}

}  // namespace ferry
