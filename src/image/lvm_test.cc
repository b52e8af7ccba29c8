#include "image/lvm.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/endian.h"

namespace ferry::image {
namespace {

constexpr uint64_t kMdaOffset = 4096;
constexpr uint64_t kMdaSize = 64 * 1024;
constexpr const char kUuid[] = "BjFipQ3jekICVxl5I8vbxheSqEa3RQB2";

void Put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
void Put64(std::vector<uint8_t>& b, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) b[at + i] = uint8_t(v >> (8 * i));
}

std::string Metadata(const std::string& lvs,
                     const std::string& pv_id = "BjFipQ-3jek-ICVx-l5I8-vbxh-eSqE-a3RQB2") {
  return "vg0 {\nid = \"x\"\nseqno = 3\nextent_size = 8192 # 4 MiB\n"
         "physical_volumes {\npv0 {\nid = \"" +
         pv_id +
         "\"\npe_start = 2048\npe_count = 60\n}\n}\n"
         "logical_volumes {\n" +
         lvs +
         "}\n}\n"
         "contents = \"Text Format Volume Group\"\nversion = 1\n";
}

std::string Linear(const std::string& name, int pe, int count, const std::string& pv = "pv0") {
  return name +
         " {\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 1\n"
         "segment1 {\nstart_extent = 0\nextent_count = " +
         std::to_string(count) + "\ntype = \"striped\"\nstripe_count = 1\nstripes = [\n\"" + pv +
         "\", " + std::to_string(pe) + "\n]\n}\n}\n";
}

// A PV of `size` bytes the way lvm2 writes one: label in sector 1, one
// metadata area at 4 KiB whose text starts at `text_at` (it wraps when it
// runs past the area's end).
std::vector<uint8_t> MakePv(const std::string& text, uint64_t size = 256 << 20,
                            uint64_t text_at = 512) {
  std::vector<uint8_t> b(kMdaOffset + kMdaSize + 4096, 0);
  uint8_t* label = &b[512];
  std::memcpy(label, "LABELONE", 8);
  Put64(b, 512 + 8, 1);
  Put32(b, 512 + 20, 32);
  std::memcpy(label + 24, "LVM2 001", 8);
  std::memcpy(label + 32, kUuid, 32);
  Put64(b, 512 + 64, size);
  Put64(b, 512 + 72, 1 << 20);  // data area, then terminator
  Put64(b, 512 + 104, kMdaOffset);
  Put64(b, 512 + 112, kMdaSize);
  Put32(b, 512 + 16, LvmChecksum(std::span<const uint8_t>(label + 20, 512 - 20)));
  const size_t h = kMdaOffset;
  std::memcpy(&b[h + 4], " LVM2 x[5A%r0N*>", 16);
  Put32(b, h + 20, 1);
  Put64(b, h + 24, kMdaOffset);
  Put64(b, h + 32, kMdaSize);
  Put64(b, h + 40, text_at);
  Put64(b, h + 48, text.size());
  Put32(b, h + 56,
        LvmChecksum(
            std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  for (size_t i = 0; i < text.size(); ++i) {
    uint64_t at = text_at + i;
    if (at >= kMdaSize) at = at - kMdaSize + 512;
    b[h + at] = uint8_t(text[i]);
  }
  Put32(b, h, LvmChecksum(std::span<const uint8_t>(&b[h + 4], 512 - 4)));
  return b;
}

Result<std::optional<LvmPhysicalVolume>> Read(const std::vector<uint8_t>& b,
                                              uint64_t size = 256 << 20) {
  return ReadLvmPhysicalVolume(size, [&](uint64_t offset, std::span<uint8_t> out) -> Status {
    if (offset + out.size() > b.size()) {
      std::memset(out.data(), 0, out.size());
      if (offset < b.size()) std::memcpy(out.data(), &b[offset], b.size() - offset);
      return OkStatus();
    }
    std::memcpy(out.data(), &b[offset], out.size());
    return OkStatus();
  });
}

std::string ErrorOf(const std::vector<uint8_t>& b) {
  auto r = Read(b);
  return r.ok() ? "" : r.error().message();
}

TEST(Lvm, LinearVolumesAreLocated) {
  auto r = Read(MakePv(Metadata(Linear("root", 0, 8) + Linear("swap", 8, 2))));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_TRUE(r->has_value());
  const LvmPhysicalVolume& pv = **r;
  EXPECT_EQ(pv.vg, "vg0");
  EXPECT_EQ(pv.pv, "pv0");
  ASSERT_EQ(pv.lvs.size(), 2u);
  EXPECT_EQ(pv.lvs[0].name, "root");
  EXPECT_TRUE(pv.lvs[0].linear);
  EXPECT_EQ(pv.lvs[0].offset, 1u << 20);
  EXPECT_EQ(pv.lvs[0].size, 32u << 20);
  EXPECT_EQ(pv.lvs[1].offset, (1u << 20) + (32u << 20));
  EXPECT_EQ(pv.lvs[1].size, 8u << 20);
}

TEST(Lvm, TextThatWrapsAroundTheRingIsRead) {
  std::string text = Metadata(Linear("root", 0, 8));
  auto r = Read(MakePv(text, 256 << 20, kMdaSize - 100));
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->lvs.at(0).size, 32u << 20);
}

TEST(Lvm, ContiguousSegmentsJoinOthersAreReported) {
  std::string two =
      "home {\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = \"striped\"\n"
      "stripe_count = 1\nstripes = [\"pv0\", 10]\n}\n"
      "segment2 {\nstart_extent = 2\nextent_count = 3\ntype = \"striped\"\n"
      "stripe_count = 1\nstripes = [\"pv0\", 12]\n}\n}\n";
  std::string gap =
      "gap {\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = \"striped\"\n"
      "stripe_count = 1\nstripes = [\"pv0\", 20]\n}\n"
      "segment2 {\nstart_extent = 2\nextent_count = 3\ntype = \"striped\"\n"
      "stripe_count = 1\nstripes = [\"pv0\", 30]\n}\n}\n";
  std::string thin =
      "pool {\nsegment1 {\nstart_extent = 0\nextent_count = 2\n"
      "type = \"thin-pool\"\n}\n}\n";
  auto r = Read(MakePv(Metadata(two + gap + thin + Linear("far", 0, 4, "pv1"))));
  ASSERT_TRUE(r.ok()) << r.error().message();
  const auto& lvs = (*r)->lvs;
  ASSERT_EQ(lvs.size(), 4u);
  EXPECT_TRUE(lvs[0].linear);
  EXPECT_EQ(lvs[0].size, 5u * (4 << 20));
  EXPECT_EQ(lvs[0].offset, (1u << 20) + 10u * (4 << 20));
  EXPECT_FALSE(lvs[1].linear);
  EXPECT_EQ(lvs[1].why_not, "its segments are not one contiguous run");
  EXPECT_EQ(lvs[2].why_not, "a thin-pool segment");
  EXPECT_EQ(lvs[3].why_not, "it lies on another physical volume (pv1)");
}

TEST(Lvm, NoLabelIsNotAnError) {
  std::vector<uint8_t> blank(8192, 0);
  auto r = Read(blank);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
}

TEST(Lvm, DamageIsNamed) {
  std::string text = Metadata(Linear("root", 0, 8));
  auto label = MakePv(text);
  label[512 + 40] ^= 1;
  EXPECT_EQ(ErrorOf(label), "LVM physical volume: label checksum mismatch in sector 1");
  auto header = MakePv(text);
  header[kMdaOffset + 30] ^= 1;
  EXPECT_EQ(ErrorOf(header), "LVM physical volume: metadata area header checksum mismatch");
  auto body = MakePv(text);
  body[kMdaOffset + 600] ^= 1;
  EXPECT_EQ(ErrorOf(body), "LVM physical volume: metadata text checksum mismatch");
  auto past = MakePv(Metadata(Linear("root", 100, 8)));
  EXPECT_EQ(ErrorOf(past), "LVM physical volume: LV vg0/root lies past the end of its PV");
  auto stranger = MakePv(Metadata(Linear("root", 0, 8), "someone-else"));
  EXPECT_EQ(ErrorOf(stranger), "LVM physical volume: VG vg0 does not list this PV's UUID");
}

TEST(LvmConfig, Grammar) {
  auto root = ParseLvmConfig(
      "# comment\nvg { a = 1\nb = \"x\\\"y\" c = [\"p\", -2, 3]\ninner { d = [] } }\nversion = "
      "1\n");
  ASSERT_TRUE(root.ok()) << root.error().message();
  const LvmConfigNode* vg = root->Find("vg");
  ASSERT_NE(vg, nullptr);
  EXPECT_EQ(vg->Find("a")->integer, 1);
  EXPECT_EQ(vg->Find("b")->text, "x\"y");
  const LvmConfigNode* c = vg->Find("c");
  ASSERT_EQ(c->children.size(), 3u);
  EXPECT_EQ(c->children[1].integer, -2);
  EXPECT_EQ(vg->Find("inner")->Find("d")->kind, LvmConfigNode::Kind::kList);
}

TEST(LvmConfig, HostileTextIsRefused) {
  EXPECT_FALSE(ParseLvmConfig("vg { a = 1").ok());
  EXPECT_FALSE(ParseLvmConfig("a = \"open").ok());
  EXPECT_FALSE(ParseLvmConfig("a = [1, [2]]").ok());
  EXPECT_FALSE(ParseLvmConfig("}").ok());
  EXPECT_FALSE(ParseLvmConfig("a b").ok());
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "s {";
  auto r = ParseLvmConfig(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("nested deeper"), std::string::npos);
}

}  // namespace
}  // namespace ferry::image
