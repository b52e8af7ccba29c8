// The memory functions the compiler may call on its own, even in freestanding code
// (struct copies, zero-initialisation). REP MOVSB/STOSB are fast on current CPUs.
#include <stddef.h>

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
  void* ret = dst;
  asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
  return ret;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  while (n-- > 0) d[n] = s[n];
  return dst;
}

void* memset(void* dst, int c, size_t n) {
  void* ret = dst;
  asm volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
  return ret;
}

int memcmp(const void* a, const void* b, size_t n) {
  const auto* x = static_cast<const unsigned char*>(a);
  const auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

}  // extern "C"
