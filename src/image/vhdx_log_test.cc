#include "image/vhdx_log.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/crc32c.h"

namespace ferry::image::vhdx {
namespace {

constexpr uint64_t kSector = 4096;
const Guid kGuid = GuidFromString("01020304-0506-0708-090A-0B0C0D0E0F10");

void Put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  std::memcpy(&b[at], &v, 4);
}
void Put64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  std::memcpy(&b[at], &v, 8);
}

struct Op {
  bool zero;
  uint64_t offset;
  uint64_t length;  // zero ops
  uint8_t fill;     // data ops: the 4 KiB written
};

// One log entry of `ops` (little-endian, as on disk).
std::vector<uint8_t> MakeEntry(uint64_t sequence, uint32_t tail, const std::vector<Op>& ops) {
  size_t data_ops = 0;
  for (const Op& o : ops) data_ops += !o.zero;
  const size_t head = (64 + 32 * ops.size() + kSector - 1) / kSector * kSector;
  std::vector<uint8_t> e(head + kSector * data_ops);
  std::memcpy(&e[0], "loge", 4);
  Put32(e, 8, uint32_t(e.size()));
  Put32(e, 12, tail);
  Put64(e, 16, sequence);
  Put32(e, 24, uint32_t(ops.size()));
  std::memcpy(&e[32], kGuid.data(), 16);
  size_t sector = head;
  for (size_t i = 0; i < ops.size(); ++i) {
    const size_t at = 64 + 32 * i;
    if (ops[i].zero) {
      std::memcpy(&e[at], "zero", 4);
      Put64(e, at + 8, ops[i].length);
    } else {
      std::memcpy(&e[at], "desc", 4);
      std::memset(&e[at + 4], ops[i].fill, 12);  // trailing 4 and leading 8 bytes
      std::memcpy(&e[sector], "data", 4);
      Put32(e, sector + 4, uint32_t(sequence >> 32));
      std::memset(&e[sector + 8], ops[i].fill, kSector - 12);
      Put32(e, sector + kSector - 4, uint32_t(sequence));
      sector += kSector;
    }
    Put64(e, at + 16, ops[i].offset);
    Put64(e, at + 24, sequence);
  }
  Put32(e, 4, Crc32c(e));
  return e;
}

void Place(std::vector<uint8_t>& log, size_t at, const std::vector<uint8_t>& entry) {
  for (size_t i = 0; i < entry.size(); ++i) log[(at + i) % log.size()] = entry[i];
}

TEST(VhdxLog, ReplaysTheActiveSequenceInOrder) {
  std::vector<uint8_t> log(16 * kSector);
  // An older, finished sequence (5) and the active one (8, 9) that starts
  // where entry 9's tail says; entry 9 zeroes what 8 wrote, then writes again.
  Place(log, 0, MakeEntry(5, 0, {{false, 1 << 20, 0, 0x55}}));
  Place(log, 4 * kSector,
        MakeEntry(8, 4 * kSector,
                  {{false, 1 << 20, 0, 0xaa}, {false, (1 << 20) + kSector, 0, 0xbb}}));
  Place(log, 7 * kSector,
        MakeEntry(9, 4 * kSector,
                  {{true, 1 << 20, 2 * kSector, 0}, {false, (1 << 20) + kSector, 0, 0xcc}}));
  Result<LogOverlay> o = LogOverlay::Replay(log, kGuid, 64 << 20);
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->entries(), 2u);
  EXPECT_EQ(o->sequence(), 9u);
  std::vector<uint8_t> file(3 * kSector, 0x11);
  o->Apply((1 << 20) - kSector, file);
  EXPECT_EQ(file[0], 0x11);                // untouched
  EXPECT_EQ(file[kSector], 0x00);          // written by 8, zeroed by 9
  EXPECT_EQ(file[2 * kSector], 0xcc);      // written by 8, then by 9
  EXPECT_EQ(file[3 * kSector - 1], 0xcc);  // the trailing bytes come from the descriptor
}

TEST(VhdxLog, AnEntryMayWrapAroundTheRing) {
  std::vector<uint8_t> log(8 * kSector);
  Place(log, 7 * kSector, MakeEntry(3, 7 * kSector, {{false, 8 * kSector, 0, 0x77}}));
  Result<LogOverlay> o = LogOverlay::Replay(log, kGuid, 1 << 20);
  ASSERT_TRUE(o.ok()) << o.error().message();
  ASSERT_EQ(o->entries(), 1u);
  std::vector<uint8_t> file(kSector);
  o->Apply(8 * kSector, file);
  EXPECT_EQ(file[100], 0x77);
}

TEST(VhdxLog, DamagedEntriesAreNotReplayed) {
  std::vector<uint8_t> log(8 * kSector);
  std::vector<uint8_t> entry = MakeEntry(4, 0, {{false, 0, 0, 0x42}});
  entry[kSector + 100] ^= 1;  // the data sector no longer matches the checksum
  Place(log, 0, entry);
  Result<LogOverlay> o = LogOverlay::Replay(log, kGuid, 1 << 20);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->empty());
  Place(log, 0, MakeEntry(4, 0, {{false, 0, 0, 0x42}}));
  EXPECT_TRUE(LogOverlay::Replay(log, GuidFromString("00000000-0000-0000-0000-000000000001"),
                                 1 << 20)
                  ->empty());  // another log GUID
}

}  // namespace
}  // namespace ferry::image::vhdx
