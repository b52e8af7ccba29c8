// Lets ring 3 use I/O ports on PVM.
//
// PVM runs the guest with IOPL 0 whatever RFLAGS the guest loads (its spec: "IOPL=0"),
// so every IN/OUT from ring 3 traps and KVM's instruction emulator checks the port
// against the I/O permission bitmap of the TSS in TR, read from guest memory. The guest
// kit loads no TR, so TR is the one KVM gives a new vCPU (and ferry and QEMU leave):
// base 0, limit 0xffff. The bitmap offset is then the 16-bit word at guest-physical
// 0x66, and the bitmap whatever memory it points to; QEMU leaves a copy of the ELF
// header at address 0, which denies ports such as 0x21 (the PIC) and kills the guest.
// (Outside PVM, IOPL 3 lets every port through and none of this is consulted.)
#pragma once

namespace guest {

// Zeroes guest-physical 0x0-0x1ff: a bitmap offset of 0 and a clear bit for every port
// below 0xff0. Call before the first port access; nothing else lives there once the
// guest runs. Assumes the TR described above.
void open_io_ports();

}  // namespace guest
