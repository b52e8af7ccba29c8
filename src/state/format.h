// The one format of snapshot files and migration streams (docs/state-format.md):
// a 32-byte header, then sections, each with a type, a version, an instance,
// a length and a CRC32C, ending with an End section. Everything little-endian.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "base/result.h"

namespace ferry::state {

inline constexpr std::array<uint8_t, 8> kMagic = {'F', 'E', 'R', 'R', 'Y', 'V', 'M', 'S'};
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 32;
inline constexpr size_t kSectionHeaderSize = 24;

// Type ids are never reused; 0 is reserved as invalid.
enum class SectionType : uint32_t {
  kMachine = 1,     // machine configuration and CPU features: comes first
  kVcpu = 2,        // one per vCPU, instance = vCPU index
  kIrqchip = 3,     // in-kernel PIC pair and IOAPIC
  kPit = 4,         // in-kernel PIT
  kClock = 5,       // kvmclock and the host time it was taken at
  kSerial = 6,      // COM1
  kMemoryFile = 7,  // snapshot: guest RAM lives in a sparse file beside the state
  kPages = 8,       // migration: a batch of guest pages
  kAccept = 9,      // receiver -> sender: the machine fits here, resources reserved
  kRefuse = 10,     // receiver -> sender: it does not (a message says why)
  kReady = 11,      // receiver -> sender: everything arrived and is loaded
  kGo = 12,         // sender -> receiver: the sender will not run the VM again
  kRunning = 13,    // receiver -> sender: the VM runs here now
  kVirtioPci = 14,  // one per virtio device, instance = device index (PCI slot - 1)
  kVirtioBlk = 15,  // block device state, instance = its virtio-pci instance
  kVirtioNet = 16,  // network device state, instance = its virtio-pci instance
  // Disks in migration (ids from 32 so device sections keep the small ones).
  kDiskPlan = 32,    // sender -> receiver: each disk, shared or copied
  kDiskResume = 33,  // receiver -> sender: what of each copied disk it already holds
  kDiskChunks = 34,  // sender -> receiver: a batch of disk chunks, instance = disk
  kSync = 35,        // sender -> receiver: answer once everything before this is loaded
  kSynced = 36,      // receiver -> sender: it is
  kEnd = 0xffff,     // last section: the stream is complete
};

struct SectionKind {
  SectionType type;
  const char* name;
  uint16_t version;      // newest version this ferry reads and writes
  uint64_t max_payload;  // larger payloads are refused before any allocation
};

// Returns nullptr for a type this ferry does not know.
const SectionKind* FindSectionKind(uint32_t type);
std::string SectionName(uint32_t type);

struct SectionHeader {
  uint32_t type;
  uint16_t version;
  uint16_t instance;
  uint64_t length;
  uint32_t crc;           // CRC32C over header bytes 0..15, then the payload
  uint32_t reserved = 0;  // must be zero
};

std::array<uint8_t, kFileHeaderSize> EncodeFileHeader();
Status CheckFileHeader(std::span<const uint8_t, kFileHeaderSize> bytes);

std::array<uint8_t, kSectionHeaderSize> EncodeSectionHeader(const SectionHeader& header);
SectionHeader DecodeSectionHeader(std::span<const uint8_t, kSectionHeaderSize> bytes);
// Starts the section CRC over the header fields that precede it.
uint32_t SectionHeaderCrc(const SectionHeader& header);
// Checks type, version and length against what this ferry knows.
Status CheckSectionHeader(const SectionHeader& header);

}  // namespace ferry::state
