#include "rt/exit.h"

#include <stdarg.h>

#include "rt/console.h"
#include "rt/format.h"
#include "rt/x86.h"

namespace guest {

namespace {
constexpr uint16_t kExitPort = 0xf4;
}  // namespace

void exit_guest(uint32_t status) {
  x86::outl(kExitPort, status);
  // Without an exit device there is nothing better to do than to stop here.
  for (;;) x86::pause();
}

void fatal(uint32_t status, const char* fmt, ...) {
  char message[256];
  va_list args;
  va_start(args, fmt);
  vsnformat(message, sizeof(message), fmt, args);
  va_end(args);
  console::print("ferry-guest: error: %s\n", message);
  exit_guest(status);
}

void fatal_for(const char* who, uint32_t status, const char* fmt, ...) {
  char message[256];
  va_list args;
  va_start(args, fmt);
  vsnformat(message, sizeof(message), fmt, args);
  va_end(args);
  console::print("%s: error: %s\n", who, message);
  exit_guest(status);
}

}  // namespace guest
