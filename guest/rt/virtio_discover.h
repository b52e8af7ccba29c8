// Finding the virtio devices, whatever the transport:
//   - PCI: every function pci::Inventory finds with a virtio id (virtio_pci.h); BARs
//     the firmware left unassigned get an address first;
//   - virtio-mmio named on the command line ("virtio_mmio.device=SIZE@BASE:IRQ", which
//     QEMU's microvm appends when it has no ACPI) or in the ACPI DSDT (a device with
//     _HID "LNRO0005" and a Memory32Fixed resource: microvm with ACPI, its default).
// Prints one inventory line per PCI function and virtio-mmio device:
//   pci: 00:02.0 1af4:1042 virtio-blk
//   virtio-mmio: 0xfeb00e00 virtio-blk
// with " ignored: WHY" appended for a virtio device it cannot drive.
#pragma once

#include <stdint.h>

#include "rt/args.h"
#include "rt/virtio.h"

namespace guest::virtio {

// Once, on the BSP, before arena::init (ACPI tables may lie in RAM that gets reused).
void discover(const Args& args, uint64_t rsdp);

// The index-th usable device of a type (PCI ones first, then virtio-mmio in address
// order), or nullptr.
Transport* find(uint32_t type, int index);
int count(uint32_t type);

}  // namespace guest::virtio
