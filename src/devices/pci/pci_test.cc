#include <gtest/gtest.h>

#include <cstring>

#include "devices/pci/pci_bus.h"
#include "devices/pci/pci_config.h"

namespace ferry {
namespace {

uint32_t Read32(const PciConfigSpace& c, uint32_t offset) {
  uint32_t v;
  c.Read(offset, {reinterpret_cast<uint8_t*>(&v), 4});
  return v;
}

void Write32(PciConfigSpace& c, uint32_t offset, uint32_t v) {
  c.Write(offset, {reinterpret_cast<const uint8_t*>(&v), 4});
}

PciConfigSpace Sample() {
  PciConfigSpace c({.vendor = 0x1af4,
                    .device = 0x1042,
                    .revision = 1,
                    .class_code = 0x018000,
                    .subsystem_vendor = 0x1af4,
                    .subsystem = 0x40},
                   "test");
  c.DeclareBar(0, 0x8000);
  c.AssignBar(0, 0xc0000000);
  return c;
}

TEST(PciConfig, IdentificationIsReadOnly) {
  PciConfigSpace c = Sample();
  EXPECT_EQ(Read32(c, 0), 0x10421af4u);
  EXPECT_EQ(Read32(c, 8), 0x01800001u);
  Write32(c, 0, 0);
  Write32(c, 8, 0);
  EXPECT_EQ(Read32(c, 0), 0x10421af4u);
  EXPECT_EQ(Read32(c, 8), 0x01800001u);
  // Only the command bits that exist stick.
  Write32(c, pci::kCommand, 0xffffffff);
  EXPECT_EQ(c.word(pci::kCommand), pci::kCommandIo | pci::kCommandMemory |
                                       pci::kCommandBusMaster | pci::kCommandIntxDisable);
}

TEST(PciConfig, BarSizingAndWriteBack) {
  PciConfigSpace c = Sample();
  EXPECT_EQ(Read32(c, pci::kBar0), 0xc0000000u);
  Write32(c, pci::kBar0, 0xffffffff);
  EXPECT_EQ(Read32(c, pci::kBar0), 0xffff8000u);  // the size mask: 32 KiB
  Write32(c, pci::kBar0, 0xc0000000);
  EXPECT_EQ(Read32(c, pci::kBar0), 0xc0000000u);
  // Unimplemented BARs are hardwired to zero, sizing included.
  Write32(c, pci::kBar0 + 4, 0xffffffff);
  EXPECT_EQ(Read32(c, pci::kBar0 + 4), 0u);
  // A move is ignored: the BAR stays where ferry put it.
  Write32(c, pci::kBar0, 0xd0000000);
  EXPECT_EQ(Read32(c, pci::kBar0), 0xc0000000u);
  EXPECT_EQ(c.bar_address(0), 0xc0000000u);
}

TEST(PciConfig, ByteWritesToABar) {
  PciConfigSpace c = Sample();
  uint8_t ones[2] = {0xff, 0xff};
  c.Write(pci::kBar0, ones);
  c.Write(pci::kBar0 + 2, ones);
  EXPECT_EQ(Read32(c, pci::kBar0), 0xffff8000u);
}

TEST(PciConfig, CapabilityListIsChained) {
  PciConfigSpace c = Sample();
  uint8_t a[4] = {0x09, 0xee, 4, 1};
  uint8_t b[12] = {0x11};
  uint8_t writable[12] = {0, 0, 0, 0xc0};
  uint8_t first = c.AddCapability(a);
  uint8_t second = c.AddCapability(b, writable);
  EXPECT_TRUE(c.word(pci::kStatus) & pci::kStatusCapabilities);
  EXPECT_EQ(c.byte(pci::kCapabilityPointer), first);
  EXPECT_EQ(c.byte(first + 1), second);
  EXPECT_EQ(c.byte(second + 1), 0);
  uint8_t all = 0xff;
  c.Write(second + 3, {&all, 1});
  c.Write(second + 2, {&all, 1});
  EXPECT_EQ(c.byte(second + 3), 0xc0);
  EXPECT_EQ(c.byte(second + 2), 0);
}

TEST(PciConfig, RestoreRefusesOtherBars) {
  PciConfigSpace c = Sample();
  PciConfigState s = c.Save();
  s.bytes[pci::kInterruptLine] = 17;
  s.bytes[0] = 0;  // read-only: this side's value wins
  EXPECT_TRUE(c.Restore(s));
  EXPECT_EQ(c.byte(pci::kInterruptLine), 17);
  EXPECT_EQ(c.byte(0), 0xf4);
  s.bytes[pci::kBar0 + 3] = 0xd0;
  EXPECT_FALSE(c.Restore(s));
}

class NullBar final : public IoDevice {
 public:
  void Read(uint64_t, std::span<uint8_t> data) override { std::memset(data.data(), 0, data.size()); }
  void Write(uint64_t, std::span<const uint8_t>) override {}
};

class TestFunction final : public PciDevice {
 public:
  TestFunction() : config_(Sample()) {}
  const std::string& name() const override { return name_; }
  std::vector<Bar> Bars() override { return {{0, &bar_}}; }

 protected:
  PciConfigSpace& config() override { return config_; }

 private:
  std::string name_ = "test";
  PciConfigSpace config_;
  NullBar bar_;
};

uint32_t ConfigRead(PciBus& bus, uint32_t slot, uint32_t reg, size_t width = 4) {
  uint32_t address = 0x80000000u | slot << 11 | (reg & 0xfc);
  bus.Write(0, {reinterpret_cast<const uint8_t*>(&address), 4});
  uint32_t v = 0;
  bus.Read(4 + (reg & 3), {reinterpret_cast<uint8_t*>(&v), width});
  return v;
}

TEST(PciBus, Mechanism1FindsTheHostBridgeAndDevices) {
  PciBus bus;
  TestFunction f;
  ASSERT_EQ(*bus.Add(&f), 1);
  IoBus mmio("mmio");
  ASSERT_TRUE(bus.AssignBars(mmio, 0xc0000000, 0xfec00000).ok());
  EXPECT_EQ(ConfigRead(bus, 0, 0) & 0xffff, 0x8086u);  // host bridge
  EXPECT_EQ(ConfigRead(bus, 1, 0), 0x10421af4u);
  EXPECT_EQ(ConfigRead(bus, 1, 2, 2), 0x1042u);  // a word access at 0xCFE
  EXPECT_EQ(ConfigRead(bus, 1, 1, 1), 0x1au);    // a byte access at 0xCFD
  EXPECT_EQ(ConfigRead(bus, 2, 0), 0xffffffffu);  // empty slot
  EXPECT_EQ(ConfigRead(bus, 1, pci::kBar0), 0xc0000000u);
  uint8_t probe[4];
  EXPECT_TRUE(mmio.Read(0xc0007ffc, probe));  // the BAR is mapped, 32 KiB
  EXPECT_FALSE(mmio.Read(0xc0008000, probe));
}

}  // namespace
}  // namespace ferry
