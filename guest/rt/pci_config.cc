#include "rt/pci_config.h"

#include "rt/x86.h"

namespace guest::pci {
namespace {

constexpr uint16_t kAddressPort = 0xcf8;
constexpr uint16_t kDataPort = 0xcfc;

void select(Address a, uint16_t offset) {
  x86::outl(kAddressPort, 0x80000000u | static_cast<uint32_t>(a.bus) << 16 |
                              static_cast<uint32_t>(a.device & 31) << 11 |
                              static_cast<uint32_t>(a.function & 7) << 8 | (offset & 0xfc));
}

}  // namespace

uint32_t read32(Address a, uint16_t offset) {
  select(a, offset);
  return x86::inl(kDataPort);
}

uint16_t read16(Address a, uint16_t offset) {
  select(a, offset);
  return x86::inw(static_cast<uint16_t>(kDataPort + (offset & 2)));
}

uint8_t read8(Address a, uint16_t offset) {
  select(a, offset);
  return x86::inb(static_cast<uint16_t>(kDataPort + (offset & 3)));
}

void write32(Address a, uint16_t offset, uint32_t value) {
  select(a, offset);
  x86::outl(kDataPort, value);
}

void write16(Address a, uint16_t offset, uint16_t value) {
  select(a, offset);
  x86::outw(static_cast<uint16_t>(kDataPort + (offset & 2)), value);
}

}  // namespace guest::pci
