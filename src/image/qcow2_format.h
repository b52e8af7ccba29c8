// The qcow2 on-disk format, after QEMU's specification docs/interop/qcow2.txt
// (versions 2 and 3): big-endian header, header extensions, two-level
// L1/L2 cluster mapping, refcount table + refcount blocks, internal snapshots.
// Everything here treats the file as hostile: every field is range-checked
// before any other code may use it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "image/file.h"

namespace ferry::image::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kMinClusterBits = 9;
inline constexpr uint32_t kMaxClusterBits = 21;
inline constexpr uint64_t kMaxL1Bytes = 32 << 20;            // QEMU's QCOW_MAX_L1_SIZE
inline constexpr uint64_t kMaxRefcountTableBytes = 8 << 20;  // QCOW_MAX_REFTABLE_SIZE
inline constexpr uint32_t kMaxSnapshots = 65536;
inline constexpr uint32_t kMaxBackingNameBytes = 1023;
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3HeaderLength = 104;

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1 << 0;
inline constexpr uint64_t kIncompatCorrupt = 1 << 1;
inline constexpr uint64_t kIncompatExternalData = 1 << 2;
inline constexpr uint64_t kIncompatCompressionType = 1 << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1 << 4;
// Compatible feature bits.
inline constexpr uint64_t kCompatLazyRefcounts = 1 << 0;
// Autoclear feature bits.
inline constexpr uint64_t kAutoclearBitmaps = 1 << 0;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtCrypto = 0x0537be77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

// L1/L2 entry bits.
inline constexpr uint64_t kOflagCopied = 1ull << 63;
inline constexpr uint64_t kOflagCompressed = 1ull << 62;
inline constexpr uint64_t kOflagZero = 1ull << 0;
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;  // bits 9-55
inline constexpr uint64_t kL1ReservedMask = 0x7f000000000001ffull;
inline constexpr uint64_t kL2StandardReservedMask = 0x3f000000000001feull;

inline constexpr uint8_t kCompressionZlib = 0;
inline constexpr uint8_t kCompressionZstd = 1;

struct Header {
  uint32_t version = 3;
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  uint32_t cluster_bits = 16;
  uint64_t size = 0;
  uint32_t crypt_method = 0;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = kV3HeaderLength;
  uint8_t compression_type = kCompressionZlib;

  // From the header extensions and the backing file name.
  std::string backing_file;
  std::string backing_format;
  std::string data_file;
  bool has_bitmaps = false;  // a bitmaps extension that is still valid

  uint64_t cluster_size() const { return uint64_t(1) << cluster_bits; }
  uint64_t l2_entries() const { return cluster_size() / 8; }
  uint64_t refcount_bits() const { return uint64_t(1) << refcount_order; }
  uint64_t refcounts_per_block() const { return cluster_size() * 8 / refcount_bits(); }
  // Bytes of guest space one L2 table maps.
  uint64_t l2_span() const { return cluster_size() * l2_entries(); }
  // Compressed cluster descriptors: offset in the low csize_shift bits, then
  // the count of additional 512-byte sectors.
  uint32_t csize_shift() const { return 62 - (cluster_bits - 8); }
  uint64_t csize_mask() const { return (uint64_t(1) << (cluster_bits - 8)) - 1; }
  uint64_t compressed_offset_mask() const { return (uint64_t(1) << csize_shift()) - 1; }
};

// L1 entries a disk of `size` bytes needs.
uint64_t L1EntriesFor(uint64_t size, uint32_t cluster_bits);

// Reads and validates the header and its extensions.
Result<Header> ReadHeader(const ImageFile& file, uint64_t file_size);
// Encodes a header, its extensions and the backing file name into the first
// cluster. Fails if they do not fit.
Result<std::vector<uint8_t>> EncodeHeader(const Header& header);

enum class ClusterKind { kUnallocated, kZeroPlain, kZeroAllocated, kNormal, kCompressed };

struct L2Entry {
  ClusterKind kind = ClusterKind::kUnallocated;
  uint64_t host_offset = 0;      // normal, zero-allocated, compressed
  uint64_t compressed_size = 0;  // compressed: bytes to read from host_offset
  bool copied = false;
};

// Decodes one L2 entry; refuses reserved bits and unaligned offsets.
Result<L2Entry> DecodeL2Entry(uint64_t raw, const Header& header);
// Checks one L1 entry; returns the L2 table's offset (0 when unallocated).
Result<uint64_t> DecodeL1Entry(uint64_t raw, const Header& header);

// Refcount block entries are refcount_bits wide; sub-byte widths are packed
// least significant bits first, wider ones are big-endian.
uint64_t GetRefcount(const uint8_t* block, uint64_t index, uint32_t order);
void SetRefcount(uint8_t* block, uint64_t index, uint32_t order, uint64_t value);

// One internal snapshot's L1 table, as far as reading the image needs it.
struct Snapshot {
  std::string id;
  std::string name;
  uint64_t l1_table_offset = 0;
  uint32_t l1_size = 0;
  uint64_t vm_state_size = 0;
  uint64_t disk_size = 0;
};
// Reads the snapshot table; `table_bytes` receives its length on disk.
Result<std::vector<Snapshot>> ReadSnapshots(const ImageFile& file, const Header& header,
                                            uint64_t file_size, uint64_t* table_bytes);

}  // namespace ferry::image::qcow2
