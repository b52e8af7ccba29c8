#include "image/qcow2_format.h"

#include <algorithm>

#include "base/endian.h"

namespace ferry::image::qcow2 {
namespace {

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "qcow2 header: " + what);
}

bool Aligned(uint64_t value, uint64_t alignment) {
  return (value & (alignment - 1)) == 0;
}

// [a, a+alen) and [b, b+blen) share a byte.
bool Overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return alen > 0 && blen > 0 && a < b + blen && b < a + alen;
}

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Status ParseFixedFields(const uint8_t* p, Header& h) {
  if (LoadBE32(p) != kMagic) return Corrupt("not a qcow2 image (bad magic)");
  h.version = LoadBE32(p + 4);
  if (h.version != 2 && h.version != 3) {
    return Error(ErrorCode::kUnimplemented,
                 "qcow2 version " + std::to_string(h.version) + " is not supported (only 2 and 3)");
  }
  h.backing_file_offset = LoadBE64(p + 8);
  h.backing_file_size = LoadBE32(p + 16);
  h.cluster_bits = LoadBE32(p + 20);
  h.size = LoadBE64(p + 24);
  h.crypt_method = LoadBE32(p + 32);
  h.l1_size = LoadBE32(p + 36);
  h.l1_table_offset = LoadBE64(p + 40);
  h.refcount_table_offset = LoadBE64(p + 48);
  h.refcount_table_clusters = LoadBE32(p + 56);
  h.nb_snapshots = LoadBE32(p + 60);
  h.snapshots_offset = LoadBE64(p + 64);
  if (h.version == 2) {
    h.header_length = kV2HeaderLength;
    h.refcount_order = 4;
    return OkStatus();
  }
  h.incompatible_features = LoadBE64(p + 72);
  h.compatible_features = LoadBE64(p + 80);
  h.autoclear_features = LoadBE64(p + 88);
  h.refcount_order = LoadBE32(p + 96);
  h.header_length = LoadBE32(p + 100);
  return OkStatus();
}

Status CheckFeatures(Header& h) {
  constexpr uint64_t kKnown = kIncompatDirty | kIncompatCorrupt | kIncompatExternalData |
                              kIncompatCompressionType | kIncompatExtendedL2;
  if (h.incompatible_features & ~kKnown) {
    return Error(ErrorCode::kUnimplemented, "qcow2 image uses unknown incompatible features " +
                                                Hex(h.incompatible_features & ~kKnown));
  }
  if (h.incompatible_features & kIncompatExternalData) {
    return Error(ErrorCode::kUnimplemented,
                 "qcow2 images with an external data file are not supported");
  }
  if (h.incompatible_features & kIncompatExtendedL2) {
    return Error(ErrorCode::kUnimplemented,
                 "qcow2 images with extended L2 entries (subclusters) are not supported");
  }
  if (h.crypt_method != 0) {
    return Error(ErrorCode::kUnimplemented, "encrypted qcow2 images are not supported");
  }
  bool has_type = h.incompatible_features & kIncompatCompressionType;
  if (has_type && h.header_length <= kV3HeaderLength) {
    return Corrupt("compression type feature set but the header has no compression type field");
  }
  if (h.compression_type > kCompressionZstd) {
    return Error(ErrorCode::kUnimplemented,
                 "unknown qcow2 compression type " + std::to_string(h.compression_type));
  }
  if (!has_type && h.compression_type != kCompressionZlib) {
    return Corrupt("compression type is not zlib but the compression type feature bit is clear");
  }
  return OkStatus();
}

Status CheckGeometry(const Header& h, uint64_t file_size) {
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits) {
    return Corrupt("cluster_bits " + std::to_string(h.cluster_bits) + " outside 9..21");
  }
  const uint64_t cs = h.cluster_size();
  if (h.version == 3) {
    if (h.header_length < kV3HeaderLength || h.header_length > cs || h.header_length % 8 != 0) {
      return Corrupt("header_length " + std::to_string(h.header_length) + " is invalid");
    }
  }
  if (h.refcount_order > 6) {
    return Corrupt("refcount_order " + std::to_string(h.refcount_order) + " above 6");
  }
  if (h.size > (uint64_t(1) << 61)) return Corrupt("virtual size is absurdly large");
  uint64_t l1_needed = L1EntriesFor(h.size, h.cluster_bits);
  if (uint64_t(h.l1_size) * 8 > kMaxL1Bytes) {
    return Corrupt("L1 table of " + std::to_string(h.l1_size) + " entries is too large");
  }
  if (h.l1_size < l1_needed) {
    return Corrupt("L1 table has " + std::to_string(h.l1_size) +
                   " entries, the virtual size needs " + std::to_string(l1_needed));
  }
  const uint64_t l1_bytes = uint64_t(h.l1_size) * 8;
  if (l1_bytes > 0) {
    if (!Aligned(h.l1_table_offset, cs) || h.l1_table_offset == 0) {
      return Corrupt("L1 table offset " + Hex(h.l1_table_offset) + " is not a cluster boundary");
    }
    if (h.l1_table_offset > file_size || l1_bytes > file_size - h.l1_table_offset) {
      return Corrupt("L1 table at " + Hex(h.l1_table_offset) + " lies past the end of the file");
    }
  }
  const uint64_t rt_bytes = uint64_t(h.refcount_table_clusters) * cs;
  if (h.refcount_table_clusters == 0) return Corrupt("refcount table has no clusters");
  if (rt_bytes > kMaxRefcountTableBytes) return Corrupt("refcount table is too large");
  if (!Aligned(h.refcount_table_offset, cs)) {
    return Corrupt("refcount table offset " + Hex(h.refcount_table_offset) +
                   " is not a cluster boundary");
  }
  if (Overlap(h.refcount_table_offset, rt_bytes, 0, cs)) {
    return Corrupt("refcount table at " + Hex(h.refcount_table_offset) + " overlaps the header");
  }
  if (h.refcount_table_offset > file_size || rt_bytes > file_size - h.refcount_table_offset) {
    return Corrupt("refcount table at " + Hex(h.refcount_table_offset) +
                   " lies past the end of the file");
  }
  if (Overlap(h.l1_table_offset, l1_bytes, 0, cs)) return Corrupt("L1 table overlaps the header");
  if (Overlap(h.l1_table_offset, l1_bytes, h.refcount_table_offset, rt_bytes)) {
    return Corrupt("L1 table overlaps the refcount table");
  }
  if (h.nb_snapshots > kMaxSnapshots) return Corrupt("too many snapshots");
  if (h.nb_snapshots > 0 && (!Aligned(h.snapshots_offset, cs) || h.snapshots_offset == 0 ||
                             h.snapshots_offset >= file_size)) {
    return Corrupt("snapshot table offset " + Hex(h.snapshots_offset) + " is invalid");
  }
  if (h.backing_file_offset != 0) {
    if (h.backing_file_size > kMaxBackingNameBytes || h.backing_file_offset > cs ||
        h.backing_file_size > cs - h.backing_file_offset) {
      return Corrupt("backing file name does not lie within the first cluster");
    }
  }
  return OkStatus();
}

// Header extensions lie between the header and the backing file name (or the
// end of the first cluster), each an 8-byte-aligned type/length/data record.
Status ParseExtensions(const std::vector<uint8_t>& cluster, Header& h) {
  uint64_t end = h.backing_file_offset ? h.backing_file_offset : cluster.size();
  uint64_t pos = h.header_length;
  while (pos + 8 <= end) {
    uint32_t type = LoadBE32(&cluster[pos]);
    uint32_t len = LoadBE32(&cluster[pos + 4]);
    pos += 8;
    if (type == kExtEnd) return OkStatus();
    if (len > end - pos) {
      return Corrupt("header extension " + Hex(type) + " runs past the end of the header area");
    }
    const char* data = reinterpret_cast<const char*>(&cluster[pos]);
    switch (type) {
      case kExtBackingFormat:
        h.backing_format.assign(data, len);
        break;
      case kExtDataFile:
        h.data_file.assign(data, len);
        break;
      case kExtBitmaps:
        h.has_bitmaps = (h.autoclear_features & kAutoclearBitmaps) != 0;
        break;
      case kExtCrypto:
        return Error(ErrorCode::kUnimplemented, "encrypted qcow2 images are not supported");
      default:
        break;  // feature names, bitmaps, unknown: nothing to do for reading
    }
    pos += (uint64_t(len) + 7) & ~uint64_t(7);
  }
  return OkStatus();
}

}  // namespace

uint64_t L1EntriesFor(uint64_t size, uint32_t cluster_bits) {
  uint64_t span = uint64_t(1) << (2 * cluster_bits - 3);
  return size / span + (size % span ? 1 : 0);
}

Result<Header> ReadHeader(const ImageFile& file, uint64_t file_size) {
  uint8_t fixed[kV3HeaderLength] = {};
  ASSIGN_OR_RETURN(size_t got, file.ReadSomeAt(0, fixed));
  if (got < kV2HeaderLength) return Corrupt("file is too short to hold a qcow2 header");
  Header h;
  RETURN_IF_ERROR(ParseFixedFields(fixed, h));
  if (h.version == 3 && got < kV3HeaderLength) return Corrupt("truncated version 3 header");
  RETURN_IF_ERROR(CheckGeometry(h, file_size));
  std::vector<uint8_t> cluster(h.cluster_size());
  ASSIGN_OR_RETURN(got, file.ReadSomeAt(0, cluster));
  if (got < h.header_length) return Corrupt("truncated header");
  cluster.resize(std::max<size_t>(got, h.header_length));
  if (h.header_length > kV3HeaderLength) h.compression_type = cluster[kV3HeaderLength];
  RETURN_IF_ERROR(CheckFeatures(h));
  RETURN_IF_ERROR(ParseExtensions(cluster, h));
  if (h.backing_file_offset != 0) {
    if (h.backing_file_offset + h.backing_file_size > cluster.size()) {
      return Corrupt("backing file name lies past the end of the file");
    }
    h.backing_file.assign(reinterpret_cast<const char*>(&cluster[h.backing_file_offset]),
                          h.backing_file_size);
  }
  return h;
}

Result<std::vector<uint8_t>> EncodeHeader(const Header& h) {
  std::vector<uint8_t> out(h.cluster_size(), 0);
  uint8_t* p = out.data();
  StoreBE32(p, kMagic);
  StoreBE32(p + 4, h.version);
  StoreBE32(p + 20, h.cluster_bits);
  StoreBE64(p + 24, h.size);
  StoreBE32(p + 32, h.crypt_method);
  StoreBE32(p + 36, h.l1_size);
  StoreBE64(p + 40, h.l1_table_offset);
  StoreBE64(p + 48, h.refcount_table_offset);
  StoreBE32(p + 56, h.refcount_table_clusters);
  StoreBE32(p + 60, h.nb_snapshots);
  StoreBE64(p + 64, h.snapshots_offset);
  uint64_t pos = kV2HeaderLength;
  if (h.version == 3) {
    uint32_t length = h.compression_type != kCompressionZlib ? 112 : kV3HeaderLength;
    StoreBE64(p + 72, h.incompatible_features);
    StoreBE64(p + 80, h.compatible_features);
    StoreBE64(p + 88, h.autoclear_features);
    StoreBE32(p + 96, h.refcount_order);
    StoreBE32(p + 100, length);
    if (length > kV3HeaderLength) p[104] = h.compression_type;
    pos = length;
  }
  auto add_extension = [&](uint32_t type, const std::string& data) -> Status {
    uint64_t padded = (data.size() + 7) & ~size_t(7);
    if (pos + 8 + padded + 8 > out.size()) {
      return Error(ErrorCode::kInvalidArgument, "qcow2 header extensions do not fit a cluster");
    }
    StoreBE32(p + pos, type);
    StoreBE32(p + pos + 4, uint32_t(data.size()));
    std::copy(data.begin(), data.end(), p + pos + 8);
    pos += 8 + padded;
    return OkStatus();
  };
  if (!h.backing_format.empty())
    RETURN_IF_ERROR(add_extension(kExtBackingFormat, h.backing_format));
  if (h.version == 3) {
    // The feature name table lets other tools name the bits we may set.
    std::string table(3 * 48, '\0');
    auto entry = [&](int i, uint8_t type, uint8_t bit, const char* name) {
      table[i * 48] = char(type);
      table[i * 48 + 1] = char(bit);
      std::copy(name, name + std::strlen(name), table.begin() + i * 48 + 2);
    };
    entry(0, 0, 0, "dirty bit");
    entry(1, 0, 1, "corrupt bit");
    entry(2, 0, 3, "compression type");
    RETURN_IF_ERROR(add_extension(kExtFeatureTable, table));
  }
  pos += 8;  // end-of-extensions marker (zeros)
  if (!h.backing_file.empty()) {
    if (h.backing_file.size() > kMaxBackingNameBytes || pos + h.backing_file.size() > out.size()) {
      return Error(ErrorCode::kInvalidArgument, "backing file name is too long");
    }
    StoreBE64(p + 8, pos);
    StoreBE32(p + 16, uint32_t(h.backing_file.size()));
    std::copy(h.backing_file.begin(), h.backing_file.end(), p + pos);
  }
  return out;
}

Result<uint64_t> DecodeL1Entry(uint64_t raw, const Header& h) {
  if (raw & kL1ReservedMask) {
    return Error(ErrorCode::kCorrupt, "L1 entry " + Hex(raw) + " has reserved bits set");
  }
  uint64_t offset = raw & kOffsetMask;
  if (!Aligned(offset, h.cluster_size())) {
    return Error(ErrorCode::kCorrupt, "L1 entry points to unaligned L2 table at " + Hex(offset));
  }
  return offset;
}

Result<L2Entry> DecodeL2Entry(uint64_t raw, const Header& h) {
  L2Entry e;
  e.copied = raw & kOflagCopied;
  if (raw & kOflagCompressed) {
    e.kind = ClusterKind::kCompressed;
    e.host_offset = raw & h.compressed_offset_mask();
    uint64_t sectors = ((raw >> h.csize_shift()) & h.csize_mask()) + 1;
    e.compressed_size = sectors * 512 - (e.host_offset & 511);
    if (e.host_offset == 0) return Error(ErrorCode::kCorrupt, "compressed cluster at offset 0");
    return e;
  }
  if (raw & kL2StandardReservedMask) {
    return Error(ErrorCode::kCorrupt, "L2 entry " + Hex(raw) + " has reserved bits set");
  }
  e.host_offset = raw & kOffsetMask;
  if (!Aligned(e.host_offset, h.cluster_size())) {
    return Error(ErrorCode::kCorrupt,
                 "L2 entry points to unaligned cluster at " + Hex(e.host_offset));
  }
  if (raw & kOflagZero) {
    e.kind = e.host_offset ? ClusterKind::kZeroAllocated : ClusterKind::kZeroPlain;
  } else {
    e.kind = e.host_offset ? ClusterKind::kNormal : ClusterKind::kUnallocated;
  }
  return e;
}

uint64_t GetRefcount(const uint8_t* block, uint64_t index, uint32_t order) {
  switch (order) {
    case 0:
    case 1:
    case 2: {
      uint32_t bits = 1u << order;
      uint64_t bit = index * bits;
      return (block[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
    }
    case 3:
      return block[index];
    case 4:
      return LoadBE16(block + index * 2);
    case 5:
      return LoadBE32(block + index * 4);
    default:
      return LoadBE64(block + index * 8);
  }
}

void SetRefcount(uint8_t* block, uint64_t index, uint32_t order, uint64_t value) {
  switch (order) {
    case 0:
    case 1:
    case 2: {
      uint32_t bits = 1u << order;
      uint64_t bit = index * bits;
      uint8_t mask = uint8_t(((1u << bits) - 1) << (bit % 8));
      block[bit / 8] = uint8_t((block[bit / 8] & ~mask) | ((value << (bit % 8)) & mask));
      break;
    }
    case 3:
      block[index] = uint8_t(value);
      break;
    case 4:
      StoreBE16(block + index * 2, uint16_t(value));
      break;
    case 5:
      StoreBE32(block + index * 4, uint32_t(value));
      break;
    default:
      StoreBE64(block + index * 8, value);
      break;
  }
}

Result<std::vector<Snapshot>> ReadSnapshots(const ImageFile& file, const Header& h,
                                            uint64_t file_size, uint64_t* table_bytes) {
  std::vector<Snapshot> snapshots;
  uint64_t pos = h.snapshots_offset;
  for (uint32_t i = 0; i < h.nb_snapshots; ++i) {
    uint8_t fixed[40];
    RETURN_IF_ERROR(file.ReadAt(pos, fixed, "qcow2 snapshot table entry"));
    Snapshot s;
    s.l1_table_offset = LoadBE64(fixed);
    s.l1_size = LoadBE32(fixed + 8);
    uint16_t id_size = LoadBE16(fixed + 12);
    uint16_t name_size = LoadBE16(fixed + 14);
    s.vm_state_size = LoadBE32(fixed + 32);
    uint32_t extra_size = LoadBE32(fixed + 36);
    if (extra_size > 1024)
      return Corrupt("snapshot " + std::to_string(i) + " has too much extra data");
    std::vector<uint8_t> rest(extra_size + id_size + name_size);
    RETURN_IF_ERROR(file.ReadAt(pos + 40, rest, "qcow2 snapshot table entry"));
    if (extra_size >= 8) s.vm_state_size = LoadBE64(rest.data());
    s.disk_size = h.size;
    if (extra_size >= 16) s.disk_size = LoadBE64(rest.data() + 8);
    s.id.assign(reinterpret_cast<const char*>(rest.data() + extra_size), id_size);
    s.name.assign(reinterpret_cast<const char*>(rest.data() + extra_size + id_size), name_size);
    if (uint64_t(s.l1_size) * 8 > kMaxL1Bytes || !Aligned(s.l1_table_offset, h.cluster_size()) ||
        s.l1_table_offset > file_size || uint64_t(s.l1_size) * 8 > file_size - s.l1_table_offset) {
      return Corrupt("snapshot '" + s.name + "' has an invalid L1 table");
    }
    pos += (40 + rest.size() + 7) & ~uint64_t(7);
    snapshots.push_back(std::move(s));
  }
  if (table_bytes) *table_bytes = pos - h.snapshots_offset;
  return snapshots;
}

}  // namespace ferry::image::qcow2
