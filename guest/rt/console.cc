#include "rt/console.h"

#include "rt/format.h"
#include "rt/serial.h"
#include "rt/spinlock.h"

namespace guest::console {
namespace {

constinit SpinLock g_lock;

// Collects formatted text so the UART sees bursts rather than single bytes.
struct LineBuffer {
  char data[64];
  size_t used = 0;

  void flush() {
    serial::write(data, used);
    used = 0;
  }
};

void buffer_write(void* context, const char* text, size_t length) {
  auto* b = static_cast<LineBuffer*>(context);
  for (size_t i = 0; i < length; ++i) {
    if (b->used == sizeof(b->data)) b->flush();
    b->data[b->used++] = text[i];
  }
}

// Caller holds g_lock.
void print_locked(const char* fmt, va_list args) {
  LineBuffer buffer;
  vformat(FormatSink{buffer_write, &buffer}, fmt, args);
  buffer.flush();
}

}  // namespace

void init() {
  serial::init();
}

void vprint(const char* fmt, va_list args) {
  LockGuard guard(g_lock);
  print_locked(fmt, args);
}

bool try_print(const char* fmt, ...) {
  if (!g_lock.try_lock()) return false;
  va_list args;
  va_start(args, fmt);
  print_locked(fmt, args);
  va_end(args);
  g_lock.unlock();
  return true;
}

void print(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vprint(fmt, args);
  va_end(args);
}

}  // namespace guest::console
