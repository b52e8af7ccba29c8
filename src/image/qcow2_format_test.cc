#include "image/qcow2_format.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "image/qcow2_refcount.h"

namespace ferry::image::qcow2 {
namespace {

TEST(Qcow2Format, RefcountWidthsRoundTrip) {
  for (uint32_t order = 0; order <= 6; ++order) {
    std::vector<uint8_t> block(4096, 0);
    uint64_t max = order == 6 ? ~uint64_t(0) : (uint64_t(1) << (1u << order)) - 1;
    for (uint64_t i = 0; i < 64; ++i) SetRefcount(block.data(), i, order, (i * 7) & max);
    for (uint64_t i = 0; i < 64; ++i) {
      EXPECT_EQ(GetRefcount(block.data(), i, order), (i * 7) & max) << "order " << order;
    }
  }
}

TEST(Qcow2Format, SixteenBitRefcountsAreBigEndian) {
  uint8_t block[4] = {};
  SetRefcount(block, 1, 4, 0x0102);
  EXPECT_EQ(block[2], 0x01);
  EXPECT_EQ(block[3], 0x02);
}

TEST(Qcow2Format, DecodesCompressedDescriptor) {
  Header h;
  h.cluster_bits = 16;
  // 62 - (16 - 8) = 54 offset bits; 3 additional sectors.
  uint64_t raw = kOflagCompressed | (uint64_t(3) << 54) | 0x12345;
  ASSERT_TRUE(DecodeL2Entry(raw, h).ok());
  L2Entry e = DecodeL2Entry(raw, h).value();
  EXPECT_EQ(e.kind, ClusterKind::kCompressed);
  EXPECT_EQ(e.host_offset, 0x12345u);
  EXPECT_EQ(e.compressed_size, 4 * 512 - (0x12345u & 511));
}

TEST(Qcow2Format, RefusesUnalignedAndReservedL2Entries) {
  Header h;
  h.cluster_bits = 16;
  EXPECT_FALSE(DecodeL2Entry(0x10200, h).ok());        // not cluster aligned
  EXPECT_FALSE(DecodeL2Entry(0x10000 | 0x2, h).ok());  // reserved bit 1
  EXPECT_EQ(DecodeL2Entry(0x10000 | kOflagZero, h).value().kind, ClusterKind::kZeroAllocated);
  EXPECT_EQ(DecodeL2Entry(kOflagZero, h).value().kind, ClusterKind::kZeroPlain);
  EXPECT_EQ(DecodeL2Entry(0, h).value().kind, ClusterKind::kUnallocated);
}

TEST(Qcow2Format, L1EntriesFor) {
  EXPECT_EQ(L1EntriesFor(0, 16), 0u);
  EXPECT_EQ(L1EntriesFor(1, 16), 1u);
  EXPECT_EQ(L1EntriesFor(512ull << 20, 16), 1u);
  EXPECT_EQ(L1EntriesFor((512ull << 20) + 1, 16), 2u);
}

TEST(Qcow2Format, RefcountPlacementCoversItself) {
  Header h;
  h.cluster_bits = 9;  // 512-byte clusters: 256 refcounts per block
  std::vector<uint32_t> counts(1000, 1);
  auto p = PlaceRefcounts(counts, 1000, h);
  ASSERT_TRUE(p.ok());
  uint64_t covered = p->blocks.size() * h.refcounts_per_block();
  EXPECT_GE(covered, counts.size());
  EXPECT_EQ(p->end, counts.size() * 512);
  EXPECT_EQ(counts.back(), 1u);
}

class HeaderFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-qcow2-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { unlink(path_.c_str()); }
  std::string path_;
};

TEST_F(HeaderFile, EncodeThenReadRoundTrips) {
  Header h;
  h.size = 1 << 30;
  h.l1_size = uint32_t(L1EntriesFor(h.size, h.cluster_bits));
  h.l1_table_offset = 65536;
  h.refcount_table_offset = 2 * 65536;
  h.refcount_table_clusters = 1;
  h.backing_file = "base.qcow2";
  h.backing_format = "qcow2";
  auto bytes = EncodeHeader(h);
  ASSERT_TRUE(bytes.ok());
  bytes->resize(3 * 65536, 0);
  FILE* f = fopen(path_.c_str(), "wb");
  fwrite(bytes->data(), 1, bytes->size(), f);
  fclose(f);
  auto file = ImageFile::Open(path_, false);
  ASSERT_TRUE(file.ok());
  auto back = ReadHeader(*file, bytes->size());
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->size, h.size);
  EXPECT_EQ(back->backing_file, "base.qcow2");
  EXPECT_EQ(back->backing_format, "qcow2");
  EXPECT_EQ(back->version, 3u);
  // The same header in a file too short for its refcount table is refused.
  auto short_file = ReadHeader(*file, 2 * 65536);
  ASSERT_FALSE(short_file.ok());
  EXPECT_NE(short_file.error().message().find("refcount table"), std::string::npos);
}

}  // namespace
}  // namespace ferry::image::qcow2
