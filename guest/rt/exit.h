// Ending the guest: the exit statuses and the isa-debug-exit port.
#pragma once

#include <stdint.h>

namespace guest {

// Exit statuses (see README.md).
enum ExitStatus : uint32_t {
  kExitPass = 0,
  kExitVerifyFailed = 1,
  kExitBadConfig = 2,  // bad command line or not enough memory
  kExitInternal = 3,
};

// Leaves the VM through the isa-debug-exit port. QEMU exits with (status << 1) | 1,
// ferry with status itself.
[[noreturn]] void exit_guest(uint32_t status);

// Prints "ferry-guest: error: <message>" and exits with status.
[[noreturn]] void fatal(uint32_t status, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

// Prints "<who>: error: <message>" (a workload's own error line) and exits with status.
[[noreturn]] void fatal_for(const char* who, uint32_t status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

}  // namespace guest
