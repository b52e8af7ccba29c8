// PCI configuration space through configuration mechanism #1: the address goes to port
// 0xCF8, the data comes and goes through 0xCFC-0xCFF. Port I/O from ring 3 (see
// io_ports.h). Each access is two port exits, tens of microseconds on PVM, so callers
// read what they need once. Used by the BSP only, before the workload runs: the
// address/data pair is not safe against another CPU using it at the same time.
#pragma once

#include <stdint.h>

namespace guest::pci {

struct Address {
  uint8_t bus;
  uint8_t device;    // 0-31
  uint8_t function;  // 0-7
};

uint32_t read32(Address a, uint16_t offset);  // offset: multiple of 4
uint16_t read16(Address a, uint16_t offset);  // offset: even
uint8_t read8(Address a, uint16_t offset);
void write32(Address a, uint16_t offset, uint32_t value);
void write16(Address a, uint16_t offset, uint16_t value);

// Standard header offsets and bits used here.
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kClassRevision = 0x08;  // class << 24 | subclass << 16 | ...
inline constexpr uint16_t kHeaderType = 0x0e;     // bit 7: multi-function
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kSecondaryBus = 0x19;  // type 1 (bridge) headers
inline constexpr uint16_t kSubsystemVendor = 0x2c;
inline constexpr uint16_t kSubsystemId = 0x2e;
inline constexpr uint16_t kCapabilities = 0x34;

inline constexpr uint16_t kCommandIo = 1 << 0;
inline constexpr uint16_t kCommandMemory = 1 << 1;
inline constexpr uint16_t kCommandBusMaster = 1 << 2;
inline constexpr uint16_t kStatusCapList = 1 << 4;

}  // namespace guest::pci
