#include "image/vhdx_format.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/crc32c.h"
#include "base/endian.h"

namespace ferry::image::vhdx {
namespace {

TEST(VhdxFormat, GuidsAreStoredMixedEndian) {
  Guid g = GuidFromString("2DC27766-F623-4200-9D64-115E9BFD4A08");
  const uint8_t want[16] = {0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                            0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08};
  EXPECT_EQ(std::memcmp(g.data(), want, 16), 0);
}

TEST(VhdxFormat, BatInterleavesSectorBitmapEntries) {
  Metadata m;
  m.block_size = 32 << 20;
  m.logical_sector_size = 512;
  m.virtual_size = 10ull << 30;  // 320 blocks, chunk ratio 128
  EXPECT_EQ(ChunkRatio(m), 128u);
  EXPECT_EQ(DataBlocks(m), 320u);
  EXPECT_EQ(BatEntries(m), 322u);
  EXPECT_EQ(PayloadIndex(127, 128), 127u);
  EXPECT_EQ(PayloadIndex(128, 128), 129u);
  m.virtual_size = 0;
  EXPECT_EQ(BatEntries(m), 0u);
}

std::vector<uint8_t> GoodHeader(uint64_t sequence) {
  std::vector<uint8_t> h(kHeaderSize);
  std::memcpy(h.data(), "head", 4);
  StoreLE64(&h[8], sequence);
  StoreLE16(&h[66], 1);
  StoreLE32(&h[68], 1 << 20);
  StoreLE64(&h[72], 1 << 20);
  StoreLE32(&h[4], Crc32c(h));
  return h;
}

TEST(VhdxFormat, PicksTheValidHeaderWithTheHigherSequence) {
  auto a = GoodHeader(7), b = GoodHeader(9);
  Result<Header> picked = PickHeader(ParseHeader(a), ParseHeader(b));
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(picked->sequence_number, 9u);
  b[200] ^= 1;  // breaks b's checksum
  picked = PickHeader(ParseHeader(a), ParseHeader(b));
  ASSERT_TRUE(picked.ok());
  EXPECT_EQ(picked->sequence_number, 7u);
  a[300] ^= 1;
  EXPECT_FALSE(PickHeader(ParseHeader(a), ParseHeader(b)).ok());
}

TEST(VhdxFormat, RefusesMetadataOutOfRange) {
  Metadata m;
  m.block_size = 3 << 20;
  m.logical_sector_size = 512;
  EXPECT_FALSE(ValidateMetadata(m, true, true, true).ok());
  m.block_size = 1 << 20;
  EXPECT_TRUE(ValidateMetadata(m, true, true, true).ok());
  EXPECT_FALSE(ValidateMetadata(m, true, false, true).ok());
  m.virtual_size = 513;
  EXPECT_FALSE(ValidateMetadata(m, true, true, true).ok());
  m.virtual_size = 512;
  m.has_parent = true;  // a differencing disk must say which parent it was made from
  EXPECT_EQ(ValidateMetadata(m, true, true, true).error().code(), ErrorCode::kCorrupt);
  m.parent_locator = {{"parent_linkage", "{not-a-guid}"}};
  EXPECT_FALSE(ValidateMetadata(m, true, true, true).ok());
  m.parent_locator = {{"parent_linkage", "{83EE1A2A-1B2C-4D5E-8F90-0123456789AB}"}};
  EXPECT_TRUE(ValidateMetadata(m, true, true, true).ok());
}

TEST(VhdxFormat, GuidTextRoundTrips) {
  const char* text = "83ee1a2a-1b2c-4d5e-8f90-0123456789ab";
  std::optional<Guid> g = ParseGuidText(std::string("{") + text + "}");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(*g, GuidFromString(text));
  EXPECT_EQ(GuidText(*g), text);
  EXPECT_FALSE(ParseGuidText("83ee1a2a-1b2c-4d5e-8f90-0123456789a").has_value());
  EXPECT_FALSE(ParseGuidText("{83ee1a2a+1b2c-4d5e-8f90-0123456789ab}").has_value());
}

}  // namespace
}  // namespace ferry::image::vhdx
