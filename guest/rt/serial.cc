#include "rt/serial.h"

#include <stdint.h>

#include "rt/x86.h"

namespace guest::serial {
namespace {

constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kData = kCom1 + 0;          // THR / RBR, DLL when DLAB=1
constexpr uint16_t kIntEnable = kCom1 + 1;     // IER, DLM when DLAB=1
constexpr uint16_t kFifoControl = kCom1 + 2;   // FCR (write) / IIR (read)
constexpr uint16_t kLineControl = kCom1 + 3;   // LCR
constexpr uint16_t kModemControl = kCom1 + 4;  // MCR
constexpr uint16_t kLineStatus = kCom1 + 5;    // LSR

constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLcr8N1 = 0x03;
constexpr uint8_t kFcrEnableAndClear = 0x07;
constexpr uint8_t kMcrDtrRts = 0x03;
constexpr uint8_t kLsrThrEmpty = 0x20;
constexpr uint8_t kIirFifoEnabled = 0xc0;

// Bytes we may write after one THR-empty check: the 16550A FIFO holds 16, a plain
// 8250/16450 holds 1. Every port access is a VM exit, so batching matters.
int g_burst = 1;

}  // namespace

void init() {
  x86::outb(kIntEnable, 0);
  x86::outb(kLineControl, kLcrDlab);
  x86::outb(kData, 1);  // divisor 1 = 115200 baud
  x86::outb(kIntEnable, 0);
  x86::outb(kLineControl, kLcr8N1);
  x86::outb(kFifoControl, kFcrEnableAndClear);
  x86::outb(kModemControl, kMcrDtrRts);
  g_burst = (x86::inb(kFifoControl) & kIirFifoEnabled) == kIirFifoEnabled ? 16 : 1;
}

void write(const char* text, size_t length) {
  while (length > 0) {
    while ((x86::inb(kLineStatus) & kLsrThrEmpty) == 0) x86::pause();
    for (int i = 0; i < g_burst && length > 0; ++i, --length) x86::outb(kData, *text++);
  }
}

}  // namespace guest::serial
