#include "image/tar_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "image/tar.h"

namespace ferry::image {
namespace {

std::string TempPath(const std::string& name) {
  return testing::TempDir() + "/ferry_tarw_" + std::to_string(::getpid()) + "_" + name;
}

std::string ReadRange(const ImageFile& f, uint64_t offset, uint64_t size) {
  std::string out(size, '\0');
  EXPECT_TRUE(
      f.ReadAt(offset, std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), size), "test")
          .ok());
  return out;
}

TEST(TarWriter, MembersReadBackInOrderWithListTar) {
  const std::string archive = TempPath("a.tar");
  const std::string member = TempPath("member.bin");
  ::unlink(archive.c_str());
  std::string big(1000000 + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 7 + i / 13);
  std::ofstream(member, std::ios::binary) << big;
  std::string tapped;
  {
    Result<TarWriter> w = TarWriter::Create(archive);
    ASSERT_TRUE(w.ok()) << w.error().message();
    ASSERT_TRUE(w->Add("vm.ovf", std::string("<Envelope/>\n")).ok());
    ASSERT_TRUE(w->Add("empty.mf", std::string()).ok());
    ASSERT_TRUE(w->AddFile("vm-disk0.vmdk", member, [&](std::span<const uint8_t> b) {
                   tapped.append(reinterpret_cast<const char*>(b.data()), b.size());
                 }).ok());
    ASSERT_TRUE(w->Finish().ok());
  }
  EXPECT_EQ(tapped, big);
  Result<ImageFile> f = ImageFile::Open(archive, false);
  ASSERT_TRUE(f.ok());
  Result<std::vector<TarMember>> members = ListTar(*f);
  ASSERT_TRUE(members.ok()) << members.error().message();
  ASSERT_EQ(members->size(), 3u);
  EXPECT_EQ((*members)[0].name, "vm.ovf");
  EXPECT_EQ(ReadRange(*f, (*members)[0].offset, (*members)[0].size), "<Envelope/>\n");
  EXPECT_EQ((*members)[1].name, "empty.mf");
  EXPECT_EQ((*members)[1].size, 0u);
  EXPECT_EQ((*members)[2].name, "vm-disk0.vmdk");
  EXPECT_EQ(ReadRange(*f, (*members)[2].offset, (*members)[2].size), big);
  EXPECT_EQ((*members)[0].offset % 512, 0u);
  EXPECT_EQ((*members)[2].offset % 512, 0u);
  // Three headers, data padded to blocks, two end blocks.
  EXPECT_EQ(*f->Size(), 512 + 512 + 512 + 512 + (big.size() + 511) / 512 * 512 + 1024);
  ::unlink(archive.c_str());
  ::unlink(member.c_str());
}

TEST(TarWriter, HeaderIsUstarWithAValidChecksum) {
  Result<std::array<uint8_t, 512>> h = TarHeader("disk.vmdk", 1234, 1700000000);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h->data() + 257), 5), "ustar");
  EXPECT_EQ((*h)[156], '0');
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h->data() + 124), 11), "00000002322");
  uint64_t sum = 0;
  for (size_t i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : (*h)[i];
  EXPECT_EQ(std::stoull(std::string(reinterpret_cast<const char*>(h->data() + 148), 6), nullptr, 8),
            sum);
}

TEST(TarWriter, LargeSizesAreBase256) {
  const uint64_t size = uint64_t(9) << 30;
  Result<std::array<uint8_t, 512>> h = TarHeader("big.vmdk", size, 0);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)[124], 0x80);
  uint64_t v = 0;
  for (size_t i = 125; i < 136; ++i) v = v << 8 | (*h)[i];
  EXPECT_EQ(v, size);
}

TEST(TarWriter, RefusesNamesThatAreNotPlainFileNames) {
  EXPECT_FALSE(TarHeader("a/b", 0, 0).ok());
  EXPECT_FALSE(TarHeader("..", 0, 0).ok());
  EXPECT_FALSE(TarHeader("", 0, 0).ok());
  EXPECT_FALSE(TarHeader(std::string(101, 'x'), 0, 0).ok());
  EXPECT_TRUE(TarHeader(std::string(100, 'x'), 0, 0).ok());
}

}  // namespace
}  // namespace ferry::image
