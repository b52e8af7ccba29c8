// A 16550A UART at COM1, enough for polled output and for Linux's 8250 probe
// (scratch register, loopback). No receive path and no interrupts yet.
#pragma once

#include <cstdint>
#include <mutex>

#include "devices/console.h"
#include "machine/io_bus.h"

namespace ferry {

inline constexpr uint16_t kCom1Base = 0x3f8;
inline constexpr uint16_t kSerialPorts = 8;

struct SerialRegisters {
  uint8_t ier = 0;
  uint8_t lcr = 0x03;
  uint8_t mcr = 0x08;
  uint8_t scr = 0;
  uint8_t dll = 0x01;  // 115200 baud
  uint8_t dlm = 0;
  uint8_t fcr = 0;
};

class Serial final : public IoDevice {
 public:
  explicit Serial(ConsoleSink* sink) : sink_(sink) {}

  void Read(uint64_t offset, std::span<uint8_t> data) override;
  void Write(uint64_t offset, std::span<const uint8_t> data) override;

  SerialRegisters Save() const;
  void Restore(const SerialRegisters& registers);

 private:
  uint8_t ReadRegister(uint64_t offset) const;
  void WriteRegister(uint64_t offset, uint8_t value);
  bool dlab() const { return (regs_.lcr & 0x80) != 0; }

  mutable std::mutex mu_;
  ConsoleSink* sink_;
  SerialRegisters regs_;
};

}  // namespace ferry
