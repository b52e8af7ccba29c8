#include "devices/serial.h"

namespace ferry {
namespace {

enum : uint64_t { kData = 0, kIer = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kLsrIdle = 0x40;
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirFifoEnabled = 0xc0;
constexpr uint8_t kMcrLoopback = 0x10;
constexpr uint8_t kMsrIdleLines = 0xb0;  // DCD, DSR, CTS

}  // namespace

void Serial::Read(uint64_t offset, std::span<uint8_t> data) {
  std::lock_guard lock(mu_);
  for (uint8_t& byte : data) byte = ReadRegister(offset);
}

void Serial::Write(uint64_t offset, std::span<const uint8_t> data) {
  std::lock_guard lock(mu_);
  if (!data.empty()) WriteRegister(offset, data[0]);
}

uint8_t Serial::ReadRegister(uint64_t offset) const {
  switch (offset) {
    case kData:
      return dlab() ? regs_.dll : 0;
    case kIer:
      return dlab() ? regs_.dlm : regs_.ier;
    case kIir:
      return kIirNoInterrupt | ((regs_.fcr & 1) ? kIirFifoEnabled : 0);
    case kLcr:
      return regs_.lcr;
    case kMcr:
      return regs_.mcr;
    case kLsr:
      return kLsrThrEmpty | kLsrIdle;
    case kMsr:
      if (regs_.mcr & kMcrLoopback) {
        // Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
        uint8_t m = regs_.mcr;
        return static_cast<uint8_t>(((m & 0x2) << 3) | ((m & 0x1) << 5) | ((m & 0x4) << 4) |
                                    ((m & 0x8) << 4));
      }
      return kMsrIdleLines;
    case kScr:
      return regs_.scr;
    default:
      return 0xff;
  }
}

void Serial::WriteRegister(uint64_t offset, uint8_t value) {
  switch (offset) {
    case kData:
      if (dlab()) {
        regs_.dll = value;
      } else if ((regs_.mcr & kMcrLoopback) == 0) {
        sink_->Put(value);
      }
      break;
    case kIer:
      if (dlab()) {
        regs_.dlm = value;
      } else {
        regs_.ier = value & 0x0f;
      }
      break;
    case kIir:
      regs_.fcr = value;
      break;
    case kLcr:
      regs_.lcr = value;
      break;
    case kMcr:
      regs_.mcr = value & 0x1f;
      break;
    case kScr:
      regs_.scr = value;
      break;
    default:
      break;  // LSR and MSR are read-only
  }
}

SerialRegisters Serial::Save() const {
  std::lock_guard lock(mu_);
  return regs_;
}

void Serial::Restore(const SerialRegisters& registers) {
  std::lock_guard lock(mu_);
  regs_ = registers;
}

}  // namespace ferry
