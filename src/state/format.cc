#include "state/format.h"

#include <cstring>

#include "base/crc32c.h"

namespace ferry::state {
namespace {

constexpr uint64_t kSmall = 1 << 20;
constexpr uint64_t kPageBatch = 64ull << 20;

constexpr SectionKind kKinds[] = {
    {SectionType::kMachine, "machine", 1, kSmall},
    {SectionType::kVcpu, "vcpu", 1, kSmall},
    {SectionType::kIrqchip, "irqchip", 1, kSmall},
    {SectionType::kPit, "pit", 1, kSmall},
    {SectionType::kClock, "clock", 1, kSmall},
    {SectionType::kSerial, "serial", 1, kSmall},
    {SectionType::kMemoryFile, "memory-file", 1, kSmall},
    {SectionType::kPages, "pages", 1, kPageBatch},
    {SectionType::kAccept, "accept", 1, kSmall},
    {SectionType::kRefuse, "refuse", 1, kSmall},
    {SectionType::kReady, "ready", 1, kSmall},
    {SectionType::kGo, "go", 1, kSmall},
    {SectionType::kRunning, "running", 1, kSmall},
    {SectionType::kVirtioPci, "virtio-pci", 1, kSmall},
    {SectionType::kVirtioBlk, "virtio-blk", 1, kSmall},
    {SectionType::kVirtioNet, "virtio-net", 1, kSmall},
    {SectionType::kDiskPlan, "disk-plan", 1, kSmall},
    {SectionType::kDiskResume, "disk-resume", 1, kPageBatch},
    {SectionType::kDiskChunks, "disk-chunks", 1, kPageBatch},
    {SectionType::kSync, "sync", 1, kSmall},
    {SectionType::kSynced, "synced", 1, kSmall},
    {SectionType::kEnd, "end", 1, 0},
};

template <typename T>
void Put(uint8_t* at, T value) {
  std::memcpy(at, &value, sizeof value);
}

template <typename T>
T Take(const uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof value);
  return value;
}

}  // namespace

const SectionKind* FindSectionKind(uint32_t type) {
  for (const SectionKind& kind : kKinds) {
    if (static_cast<uint32_t>(kind.type) == type) return &kind;
  }
  return nullptr;
}

std::string SectionName(uint32_t type) {
  const SectionKind* kind = FindSectionKind(type);
  return kind ? kind->name : "type " + std::to_string(type);
}

std::array<uint8_t, kFileHeaderSize> EncodeFileHeader() {
  std::array<uint8_t, kFileHeaderSize> out{};
  std::memcpy(out.data(), kMagic.data(), kMagic.size());
  Put<uint32_t>(&out[8], kFormatVersion);
  Put<uint32_t>(&out[12], kFileHeaderSize);
  Put<uint32_t>(&out[28], Crc32c({out.data(), 28}));
  return out;
}

Status CheckFileHeader(std::span<const uint8_t, kFileHeaderSize> bytes) {
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    return Error(ErrorCode::kCorrupt, "not a ferry state file or stream (bad magic)");
  }
  if (Take<uint32_t>(&bytes[28]) != Crc32c({bytes.data(), 28})) {
    return Error(ErrorCode::kCorrupt, "state header is corrupt (CRC mismatch)");
  }
  uint32_t version = Take<uint32_t>(&bytes[8]);
  if (version != kFormatVersion) {
    return Error(ErrorCode::kFailedPrecondition,
                 "state format version " + std::to_string(version) + " is " +
                     (version > kFormatVersion ? "newer than" : "unknown to") + " this ferry (" +
                     std::to_string(kFormatVersion) + "): use a matching ferry");
  }
  if (Take<uint32_t>(&bytes[12]) != kFileHeaderSize) {
    return Error(ErrorCode::kCorrupt, "state header has an unexpected size");
  }
  return OkStatus();
}

std::array<uint8_t, kSectionHeaderSize> EncodeSectionHeader(const SectionHeader& header) {
  std::array<uint8_t, kSectionHeaderSize> out{};
  Put<uint32_t>(&out[0], header.type);
  Put<uint16_t>(&out[4], header.version);
  Put<uint16_t>(&out[6], header.instance);
  Put<uint64_t>(&out[8], header.length);
  Put<uint32_t>(&out[16], header.crc);
  Put<uint32_t>(&out[20], header.reserved);
  return out;
}

SectionHeader DecodeSectionHeader(std::span<const uint8_t, kSectionHeaderSize> bytes) {
  return SectionHeader{Take<uint32_t>(&bytes[0]),  Take<uint16_t>(&bytes[4]),
                       Take<uint16_t>(&bytes[6]),  Take<uint64_t>(&bytes[8]),
                       Take<uint32_t>(&bytes[16]), Take<uint32_t>(&bytes[20])};
}

uint32_t SectionHeaderCrc(const SectionHeader& header) {
  std::array<uint8_t, kSectionHeaderSize> bytes = EncodeSectionHeader(header);
  return Crc32c({bytes.data(), 16});
}

Status CheckSectionHeader(const SectionHeader& header) {
  const SectionKind* kind = FindSectionKind(header.type);
  if (header.reserved != 0) {
    return Error(ErrorCode::kCorrupt, "section header of '" + SectionName(header.type) +
                                          "' is corrupt (reserved bytes set)");
  }
  if (kind == nullptr) {
    return Error(ErrorCode::kCorrupt, "unknown section type " + std::to_string(header.type) +
                                          ": the input is corrupt or from a newer ferry");
  }
  if (header.version == 0 || header.version > kind->version) {
    return Error(ErrorCode::kFailedPrecondition,
                 std::string("section '") + kind->name + "' has version " +
                     std::to_string(header.version) + "; this ferry reads up to " +
                     std::to_string(kind->version));
  }
  if (header.length > kind->max_payload) {
    return Error(ErrorCode::kCorrupt, std::string("section '") + kind->name + "' claims " +
                                          std::to_string(header.length) +
                                          " bytes, more than its limit");
  }
  return OkStatus();
}

}  // namespace ferry::state
