#include "image/partitions.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/endian.h"

namespace ferry::image {
namespace {

// An in-memory disk of 512-byte sectors.
struct Disk {
  explicit Disk(uint64_t sectors) : bytes(sectors * 512, 0) {}
  SectorReader reader() {
    return [this](uint64_t lba, std::span<uint8_t> out) -> Status {
      if ((lba + 1) * 512 > bytes.size()) return Error(ErrorCode::kCorrupt, "past the end");
      std::memcpy(out.data(), &bytes[lba * 512], out.size());
      return OkStatus();
    };
  }
  void Entry(uint64_t sector, int slot, uint8_t type, uint32_t lba, uint32_t count) {
    uint8_t* e = &bytes[sector * 512 + 446 + 16 * slot];
    e[4] = type;
    StoreLE32(e + 8, lba);
    StoreLE32(e + 12, count);
    bytes[sector * 512 + 510] = 0x55;
    bytes[sector * 512 + 511] = 0xaa;
  }
  std::vector<uint8_t> bytes;
};

TEST(Partitions, MbrPrimaryAndLogical) {
  Disk d(4096);
  d.Entry(0, 0, 0x83, 2048, 100);
  d.Entry(0, 1, 0x05, 3000, 1000);   // extended
  d.Entry(3000, 0, 0x83, 10, 50);    // logical 5 at 3010
  d.Entry(3000, 1, 0x05, 100, 200);  // next EBR at 3100
  d.Entry(3100, 0, 0x82, 10, 20);    // logical 6 at 3110
  auto t = ParsePartitions(d.bytes.size(), d.reader());
  ASSERT_TRUE(t.ok()) << t.error().message();
  EXPECT_EQ(t->scheme, "mbr");
  ASSERT_EQ(t->partitions.size(), 3u);
  EXPECT_EQ(t->partitions[0].number, 1);
  EXPECT_EQ(t->partitions[1].number, 5);
  EXPECT_EQ(t->partitions[1].start, 3010u * 512);
  EXPECT_EQ(t->partitions[2].number, 6);
  EXPECT_EQ(t->partitions[2].start, 3110u * 512);
}

TEST(Partitions, ExtendedChainLoopRefused) {
  Disk d(4096);
  d.Entry(0, 0, 0x05, 3000, 1000);
  d.Entry(3000, 0, 0x83, 10, 50);
  d.Entry(3000, 1, 0x05, 0, 200);  // points back at itself
  auto t = ParsePartitions(d.bytes.size(), d.reader());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("loops"), std::string::npos);
}

TEST(Partitions, PastTheEndRefused) {
  Disk d(4096);
  d.Entry(0, 0, 0x83, 4000, 1000);
  EXPECT_FALSE(ParsePartitions(d.bytes.size(), d.reader()).ok());
}

TEST(Partitions, NoTableIsTheWholeDisk) {
  Disk d(64);
  auto t = ParsePartitions(d.bytes.size(), d.reader());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->scheme, "none");
  ASSERT_EQ(t->partitions.size(), 1u);
  EXPECT_EQ(t->partitions[0].size, 64u * 512);
}

TEST(Partitions, GptWithBadCrcRefused) {
  Disk d(4096);
  d.Entry(0, 0, 0xee, 1, 4095);
  std::memcpy(&d.bytes[512], "EFI PART", 8);
  StoreLE32(&d.bytes[512 + 12], 92);
  auto t = ParsePartitions(d.bytes.size(), d.reader());
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message().find("CRC"), std::string::npos);
}

}  // namespace
}  // namespace ferry::image
