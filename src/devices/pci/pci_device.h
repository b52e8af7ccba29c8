// What the PCI bus needs from a PCI function: its config space, its BARs and
// their handlers, and a hook once the BARs have their addresses.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "devices/pci/pci_config.h"
#include "machine/io_bus.h"

namespace ferry {

class PciDevice {
 public:
  virtual ~PciDevice() = default;

  virtual const std::string& name() const = 0;
  // Config space accesses, serialized by the bus. A device that reacts to
  // config writes (MSI-X enable, ...) overrides ConfigWrite.
  virtual void ConfigRead(uint32_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(config_mu_);
    config().Read(offset, data);
  }
  virtual void ConfigWrite(uint32_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(config_mu_);
    config().Write(offset, data);
  }

  struct Bar {
    int index;
    IoDevice* handler;  // gets offsets relative to the BAR's start
  };
  // BARs as declared in config() (DeclareBar); the bus assigns and maps them.
  virtual std::vector<Bar> Bars() = 0;
  // Firmware's side of BAR setup (the bus calls these before the vCPUs run).
  uint32_t BarSize(int index) {
    std::lock_guard lock(config_mu_);
    return config().bar_size(index);
  }
  void AssignBar(int index, uint32_t address) {
    std::lock_guard lock(config_mu_);
    config().AssignBar(index, address);
  }
  // Called once every BAR has its address, before the vCPUs start.
  virtual Status BarsAssigned() { return OkStatus(); }

 protected:
  virtual PciConfigSpace& config() = 0;
  std::mutex config_mu_;
};

}  // namespace ferry
