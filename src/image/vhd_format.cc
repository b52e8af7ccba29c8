#include "image/vhd_format.h"

#include <cstring>

#include "base/endian.h"

namespace ferry::image::vhd {
namespace {

uint32_t Checksum(const uint8_t* p, size_t size, size_t checksum_at) {
  uint32_t sum = 0;
  for (size_t i = 0; i < size; ++i) {
    if (i >= checksum_at && i < checksum_at + 4) continue;
    sum += p[i];
  }
  return ~sum;
}

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "vhd: " + what);
}

}  // namespace

uint64_t Footer::VirtualSize() const {
  static const char* kUsesCurrentSize[] = {"win ", "qem2", "d2v ", "CTXS", "tap\0"};
  bool use_chs = true;
  for (const char* app : kUsesCurrentSize) {
    if (std::memcmp(creator_app, app, 4) == 0) use_chs = false;
  }
  uint64_t chs = uint64_t(cylinders) * heads * sectors_per_track;
  if (!use_chs || chs == kMaxGeometrySectors) return current_size;
  return chs * kSector;
}

Result<Footer> ParseFooter(const uint8_t* p) {
  if (std::memcmp(p, "conectix", 8) != 0) return Corrupt("no footer (cookie 'conectix' missing)");
  if (LoadBE32(p + 64) != Checksum(p, kFooterSize, 64)) return Corrupt("footer checksum mismatch");
  Footer f;
  f.data_offset = LoadBE64(p + 16);
  f.timestamp = LoadBE32(p + 24);
  std::memcpy(f.creator_app, p + 28, 4);
  f.original_size = LoadBE64(p + 40);
  f.current_size = LoadBE64(p + 48);
  f.cylinders = LoadBE16(p + 56);
  f.heads = p[58];
  f.sectors_per_track = p[59];
  f.disk_type = LoadBE32(p + 60);
  std::memcpy(f.uuid, p + 68, 16);
  if (f.disk_type != kTypeFixed && f.disk_type != kTypeDynamic &&
      f.disk_type != kTypeDifferencing) {
    return Corrupt("unknown disk type " + std::to_string(f.disk_type));
  }
  if (f.VirtualSize() % kSector || f.VirtualSize() > (uint64_t(1) << 44)) {
    return Corrupt("disk size " + std::to_string(f.VirtualSize()) + " is invalid");
  }
  return f;
}

void EncodeFooter(const Footer& f, uint8_t* p) {
  std::memset(p, 0, kFooterSize);
  std::memcpy(p, "conectix", 8);
  StoreBE32(p + 8, 2);  // features: reserved bit, always set
  StoreBE32(p + 12, 0x00010000);
  StoreBE64(p + 16, f.data_offset);
  StoreBE32(p + 24, f.timestamp);
  std::memcpy(p + 28, f.creator_app, 4);
  StoreBE32(p + 32, 0x00010000);
  std::memcpy(p + 36, "Wi2k", 4);
  StoreBE64(p + 40, f.original_size);
  StoreBE64(p + 48, f.current_size);
  StoreBE16(p + 56, f.cylinders);
  p[58] = f.heads;
  p[59] = f.sectors_per_track;
  StoreBE32(p + 60, f.disk_type);
  std::memcpy(p + 68, f.uuid, 16);
  StoreBE32(p + 64, Checksum(p, kFooterSize, 64));
}

Result<DynamicHeader> ParseDynamicHeader(const uint8_t* p) {
  if (std::memcmp(p, "cxsparse", 8) != 0)
    return Corrupt("no dynamic disk header (cookie 'cxsparse' missing)");
  if (LoadBE32(p + 36) != Checksum(p, kDynHeaderSize, 36))
    return Corrupt("dynamic header checksum mismatch");
  DynamicHeader h;
  h.table_offset = LoadBE64(p + 16);
  h.max_table_entries = LoadBE32(p + 28);
  h.block_size = LoadBE32(p + 32);
  if (h.block_size < kSector || h.block_size > (256u << 20) ||
      (h.block_size & (h.block_size - 1))) {
    return Corrupt("block size " + std::to_string(h.block_size) + " is invalid");
  }
  if (h.max_table_entries > (1u << 24)) return Corrupt("block allocation table is too large");
  std::memcpy(h.parent_uuid, p + 40, 16);
  h.parent_name = Utf16ToUtf8(p + 64, 512, /*big_endian=*/true);
  for (int i = 0; i < kParentLocators; ++i) {
    const uint8_t* e = p + 576 + 24 * i;
    h.locators[i] = {LoadBE32(e), LoadBE32(e + 8), LoadBE64(e + 16)};
  }
  return h;
}

std::string Utf16ToUtf8(const uint8_t* p, size_t bytes, bool big_endian) {
  auto unit = [&](size_t i) -> uint32_t {
    return big_endian ? uint32_t(p[i] << 8 | p[i + 1]) : uint32_t(p[i + 1] << 8 | p[i]);
  };
  std::string out;
  for (size_t i = 0; i + 1 < bytes; i += 2) {
    uint32_t c = unit(i);
    if (c == 0) break;
    if (c >= 0xd800 && c < 0xdc00 && i + 3 < bytes && unit(i + 2) >= 0xdc00 &&
        unit(i + 2) < 0xe000) {
      c = 0x10000 + ((c - 0xd800) << 10) + (unit(i + 2) - 0xdc00);
      i += 2;
    } else if (c >= 0xd800 && c < 0xe000) {
      c = 0xfffd;
    }
    if (c < 0x80) {
      out += char(c);
    } else if (c < 0x800) {
      out += char(0xc0 | c >> 6);
      out += char(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out += char(0xe0 | c >> 12);
      out += char(0x80 | ((c >> 6) & 0x3f));
      out += char(0x80 | (c & 0x3f));
    } else {
      out += char(0xf0 | c >> 18);
      out += char(0x80 | ((c >> 12) & 0x3f));
      out += char(0x80 | ((c >> 6) & 0x3f));
      out += char(0x80 | (c & 0x3f));
    }
  }
  return out;
}

void EncodeDynamicHeader(const DynamicHeader& h, uint8_t* p) {
  std::memset(p, 0, kDynHeaderSize);
  std::memcpy(p, "cxsparse", 8);
  StoreBE64(p + 8, ~uint64_t(0));
  StoreBE64(p + 16, h.table_offset);
  StoreBE32(p + 24, 0x00010000);
  StoreBE32(p + 28, h.max_table_entries);
  StoreBE32(p + 32, h.block_size);
  StoreBE32(p + 36, Checksum(p, kDynHeaderSize, 36));
}

void Geometry(uint64_t size, uint16_t* cylinders, uint8_t* heads, uint8_t* sectors) {
  uint64_t total = std::min(size / kSector, kMaxGeometrySectors);
  uint64_t spt, h, cth;
  if (total >= 65535ull * 16 * 63) {
    spt = 255;
    h = 16;
    cth = total / spt;
  } else {
    spt = 17;
    cth = total / spt;
    h = std::max<uint64_t>((cth + 1023) / 1024, 4);
    if (cth >= h * 1024 || h > 16) {
      spt = 31;
      h = 16;
      cth = total / spt;
    }
    if (cth >= h * 1024) {
      spt = 63;
      h = 16;
      cth = total / spt;
    }
  }
  *cylinders = uint16_t(cth / h);
  *heads = uint8_t(h);
  *sectors = uint8_t(spt);
}

}  // namespace ferry::image::vhd
