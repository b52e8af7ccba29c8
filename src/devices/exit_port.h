// The guest's way out with a status: a write to port 0xf4 ends the VM, as
// QEMU's isa-debug-exit does (QEMU reports (status << 1) | 1, ferry the status).
#pragma once

#include <cstdint>
#include <functional>

#include "machine/io_bus.h"

namespace ferry {

inline constexpr uint16_t kExitPort = 0xf4;
inline constexpr uint16_t kExitPortWidth = 4;

class ExitPort final : public IoDevice {
 public:
  explicit ExitPort(std::function<void(uint32_t)> on_exit) : on_exit_(std::move(on_exit)) {}

  void Read(uint64_t, std::span<uint8_t> data) override {
    for (uint8_t& b : data) b = 0;
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  std::function<void(uint32_t)> on_exit_;
};

}  // namespace ferry
