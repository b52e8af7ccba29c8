#include "migration/page_batch.h"

#include <gtest/gtest.h>

#include <cstring>

#include "state/memory_stream_test_util.h"

namespace ferry::migration {
namespace {

using Buffer = state::MemoryStream;

Result<AppliedPages> Receive(Buffer& wire, GuestMemory& memory) {
  state::SectionReader reader(wire);
  ASSIGN_OR_RETURN(state::SectionHeader header, reader.NextHeader());
  return ReceivePageBatch(reader, header.length, memory);
}

TEST(PageBatch, MovesPagesAndZeroes) {
  Result<GuestMemory> source = GuestMemory::Create(16 << 20);
  Result<GuestMemory> dest = GuestMemory::Create(16 << 20);
  ASSERT_TRUE(source.ok() && dest.ok());
  std::memset(source->host_base() + 5 * kPageSize, 0xab, kPageSize);
  std::memset(source->host_base() + 9 * kPageSize, 0xcd, kPageSize);
  std::memset(dest->host_base() + 7 * kPageSize, 0xee, kPageSize);  // stale, must be zeroed
  Buffer wire;
  state::SectionWriter writer(wire);
  PageBatch batch(8);
  batch.AddNormal(5, source->host_base() + 5 * kPageSize);
  batch.AddZero(7);
  batch.AddNormal(9, source->host_base() + 9 * kPageSize);
  ASSERT_TRUE(batch.Flush(writer).ok());
  EXPECT_TRUE(batch.empty());
  Result<AppliedPages> applied = Receive(wire, *dest);
  ASSERT_TRUE(applied.ok()) << applied.error().message();
  EXPECT_EQ(applied->normal, 2u);
  EXPECT_EQ(applied->zero, 1u);
  EXPECT_EQ(dest->host_base()[5 * kPageSize + 100], 0xab);
  EXPECT_EQ(dest->host_base()[9 * kPageSize + 4095], 0xcd);
  EXPECT_EQ(dest->host_base()[7 * kPageSize + 1], 0);
}

TEST(PageBatch, RefusesPagesBeyondMemoryAndBadSizes) {
  Result<GuestMemory> memory = GuestMemory::Create(16 << 20);
  ASSERT_TRUE(memory.ok());
  uint8_t page[kPageSize] = {1};
  {
    Buffer wire;
    state::SectionWriter writer(wire);
    PageBatch batch(4);
    batch.AddNormal((16 << 20) / kPageSize, page);  // one past the end
    ASSERT_TRUE(batch.Flush(writer).ok());
    EXPECT_EQ(Receive(wire, *memory).error().code(), ErrorCode::kCorrupt);
  }
  {
    Buffer wire;
    state::SectionWriter writer(wire);
    PageBatch batch(4);
    batch.AddNormal(1, page);
    ASSERT_TRUE(batch.Flush(writer).ok());
    wire.bytes[state::kSectionHeaderSize + 8 + 7] ^= 0x40;  // encoding of record 0 flipped
    EXPECT_FALSE(Receive(wire, *memory).ok());
  }
  {
    Buffer wire;
    state::SectionWriter writer(wire);
    PageBatch batch(4);
    batch.AddNormal(1, page);
    ASSERT_TRUE(batch.Flush(writer).ok());
    wire.bytes.back() ^= 1;  // page data corrupted: CRC catches it
    Result<AppliedPages> r = Receive(wire, *memory);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("CRC"), std::string::npos);
  }
}

}  // namespace
}  // namespace ferry::migration
