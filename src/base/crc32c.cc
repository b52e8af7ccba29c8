#include "base/crc32c.h"

#include <array>
#include <cstring>

namespace ferry {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78;  // reversed Castagnoli

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

uint32_t SoftwareCrc(const uint8_t* p, size_t n, uint32_t crc) {
  for (size_t i = 0; i < n; ++i) crc = kTable[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

// The CRC register is linear over GF(2): running it over n more bytes is the
// register times x^(8n) modulo the polynomial (plus what the bytes add). That
// lets three independent streams run through the crc32 instruction at once,
// since its latency, not its throughput, limits one stream, and be joined by
// shifting the earlier ones forward. Polynomials are bit-reversed, as the
// register is: bit 31 is x^0.
constexpr uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial.
constexpr uint32_t ShiftFor(uint64_t bytes) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t power = 1u << 30;   // x^1, squared at each bit of the exponent
  for (uint64_t exponent = 8 * bytes; exponent != 0; exponent >>= 1) {
    if (exponent & 1) result = MultiplyModP(power, result);
    power = MultiplyModP(power, power);
  }
  return result;
}

// Shifting a register over `Bytes` zero bytes, as four table lookups.
template <uint64_t Bytes>
constexpr std::array<std::array<uint32_t, 256>, 4> MakeShiftTable() {
  constexpr uint32_t shift = ShiftFor(Bytes);
  std::array<std::array<uint32_t, 256>, 4> table{};
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t i = 0; i < 256; ++i) table[k][i] = MultiplyModP(shift, i << (8 * k));
  }
  return table;
}

uint32_t Shift(const std::array<std::array<uint32_t, 256>, 4>& table, uint32_t crc) {
  return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^
         table[3][crc >> 24];
}

// Two stride lengths: long for big buffers (sections, disk chunks), short for
// what is left and for 4 KiB pages.
constexpr uint64_t kLongStride = 8192;
constexpr uint64_t kShortStride = 256;
constexpr std::array<std::array<uint32_t, 256>, 4> kLongShift = MakeShiftTable<kLongStride>();
constexpr std::array<std::array<uint32_t, 256>, 4> kShortShift = MakeShiftTable<kShortStride>();

__attribute__((target("sse4.2"))) uint64_t Word(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

// Three streams of `stride` bytes each, in one pass; returns the register
// after all 3 * stride bytes.
template <uint64_t stride>
__attribute__((target("sse4.2"))) uint64_t ThreeWay(
    const uint8_t* p, uint64_t crc, const std::array<std::array<uint32_t, 256>, 4>& shift) {
  uint64_t a = crc, b = 0, c = 0;
  for (uint64_t at = 0; at < stride; at += 8) {
    a = __builtin_ia32_crc32di(a, Word(p + at));
    b = __builtin_ia32_crc32di(b, Word(p + stride + at));
    c = __builtin_ia32_crc32di(c, Word(p + 2 * stride + at));
  }
  a = Shift(shift, static_cast<uint32_t>(a)) ^ b;
  return Shift(shift, static_cast<uint32_t>(a)) ^ c;
}

__attribute__((target("sse4.2"))) uint32_t HardwareCrc(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  for (; n >= 3 * kLongStride; p += 3 * kLongStride, n -= 3 * kLongStride) {
    c = ThreeWay<kLongStride>(p, c, kLongShift);
  }
  for (; n >= 3 * kShortStride; p += 3 * kShortStride, n -= 3 * kShortStride) {
    c = ThreeWay<kShortStride>(p, c, kShortShift);
  }
  for (; n >= 8; p += 8, n -= 8) c = __builtin_ia32_crc32di(c, Word(p));
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}

}  // namespace

uint32_t Crc32c(std::span<const uint8_t> data, uint32_t crc) {
  crc = ~crc;
  crc = HasSse42() ? HardwareCrc(data.data(), data.size(), crc)
                   : SoftwareCrc(data.data(), data.size(), crc);
  return ~crc;
}

}  // namespace ferry
