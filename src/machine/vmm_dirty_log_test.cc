#include "machine/vmm_dirty_log.h"

#include <gtest/gtest.h>

#include "machine/guest_memory.h"
#include "machine/layout.h"

namespace ferry {
namespace {

TEST(VmmDirtyLog, MarksOnlyWhileActiveAndTakeClears) {
  VmmDirtyLog log(1 << 20);  // 256 pages
  uint64_t words[4] = {};
  log.Mark(0, 4096);
  log.TakeInto(words, 4);
  EXPECT_EQ(words[0], 0u);  // inactive: nothing recorded
  log.Start();
  log.Mark(4095, 2);         // straddles pages 0 and 1
  log.Mark(255 * 4096, 10);  // the last page
  log.TakeInto(words, 4);
  EXPECT_EQ(words[0], 3u);
  EXPECT_EQ(words[3], uint64_t{1} << 63);
  uint64_t again[4] = {};
  log.TakeInto(again, 4);
  EXPECT_EQ(again[0] | again[3], 0u);
  log.Mark(10 * 4096, 1);
  log.Stop();
  log.TakeInto(again, 4);
  EXPECT_EQ(again[0], 0u);  // stopping drops what was marked
}

TEST(VmmDirtyLog, GuestMemoryWritersMarkRamOffsets) {
  Result<GuestMemory> m = GuestMemory::Create(16 << 20);
  ASSERT_TRUE(m.ok());
  m->vmm_dirty_log().Start();
  uint8_t byte = 1;
  ASSERT_TRUE(m->Write(5 * 4096 + 7, {&byte, 1}).ok());
  GuestRange ranges[] = {{9 * 4096, 4096}, {12 * 4096, 100}};
  Result<size_t> n = m->WriteWith(ranges, [](std::span<const iovec> iov) -> Result<size_t> {
    return iov[0].iov_len;  // wrote only the first range
  });
  ASSERT_TRUE(n.ok());
  uint64_t words[64] = {};
  m->vmm_dirty_log().TakeInto(words, 64);
  EXPECT_EQ(words[0], (uint64_t{1} << 5) | (uint64_t{1} << 9));
  m->vmm_dirty_log().Stop();
}

}  // namespace
}  // namespace ferry
