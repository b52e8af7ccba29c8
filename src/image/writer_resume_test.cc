// Resumable writers: an image written partly, checkpointed (SaveState),
// written past the checkpoint, abandoned, resumed from the state and
// finished reads back as if it had been written in one go.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>

#include "image/image.h"

namespace ferry::image {
namespace {

constexpr uint64_t kSize = 8 << 20;
constexpr uint64_t kUnit = 2 << 20;  // a whole unit for every format here

std::vector<uint8_t> Pattern(uint64_t offset) {
  std::vector<uint8_t> v(kUnit);
  for (size_t i = 0; i < v.size(); ++i) v[i] = uint8_t((offset >> 20) * 31 + i * 7 + (i >> 9));
  return v;
}

struct Case {
  Format format;
  const char* subformat;
};

class WriterResume : public testing::TestWithParam<Case> {
 protected:
  std::string Path() {
    return testing::TempDir() + "/ferry_resume_" + std::to_string(::getpid()) + "_" +
           FormatName(GetParam().format) + GetParam().subformat;
  }
  CreateOptions Options() {
    CreateOptions o;
    o.subformat = GetParam().subformat;
    o.flush = false;
    return o;
  }
};

TEST_P(WriterResume, FinishesTheImageTheFirstRunBegan) {
  const std::string path = Path();
  ::unlink(path.c_str());
  std::vector<uint8_t> state;
  {
    auto w = CreateImage(GetParam().format, path, kSize, Options());
    ASSERT_TRUE(w.ok()) << w.error().message();
    ASSERT_TRUE((*w)->Write(0, Pattern(0)).ok());
    ASSERT_TRUE((*w)->Flush().ok());
    auto saved = (*w)->SaveState();
    ASSERT_TRUE(saved.ok() && saved->has_value());
    state = **saved;
    // Written after the checkpoint, then the process dies: written again.
    ASSERT_TRUE((*w)->Write(2 * kUnit, Pattern(2 * kUnit)).ok());
  }
  auto w = ResumeImage(GetParam().format, path, kSize, Options(), state);
  ASSERT_TRUE(w.ok()) << w.error().message();
  ASSERT_TRUE((*w)->Write(2 * kUnit, Pattern(2 * kUnit)).ok());
  ASSERT_TRUE((*w)->Write(3 * kUnit, Pattern(3 * kUnit)).ok());
  ASSERT_TRUE((*w)->Finish().ok());
  w->reset();

  OpenOptions open;
  open.format = GetParam().format;
  auto r = OpenImage(path, open);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ((*r)->virtual_size(), kSize);
  for (uint64_t offset = 0; offset < kSize; offset += kUnit) {
    std::vector<uint8_t> got(kUnit);
    ASSERT_TRUE((*r)->Read(offset, got).ok());
    std::vector<uint8_t> want = offset == kUnit ? std::vector<uint8_t>(kUnit) : Pattern(offset);
    EXPECT_EQ(got, want) << "at " << offset;
  }
  ::unlink(path.c_str());
}

TEST_P(WriterResume, RefusesADamagedState) {
  const std::string path = Path();
  ::unlink(path.c_str());
  std::vector<uint8_t> state;
  {
    auto w = CreateImage(GetParam().format, path, kSize, Options());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(kUnit, Pattern(kUnit)).ok());
    auto saved = (*w)->SaveState();
    ASSERT_TRUE(saved.ok() && saved->has_value());
    state = **saved;
  }
  std::vector<uint8_t> cut(state.begin(), state.end() - 1);
  EXPECT_FALSE(ResumeImage(GetParam().format, path, kSize, Options(), cut).ok());
  std::vector<uint8_t> longer = state;
  longer.push_back(0);
  EXPECT_FALSE(ResumeImage(GetParam().format, path, kSize, Options(), longer).ok());
  ::unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Formats, WriterResume,
                         testing::Values(Case{Format::kVmdk, "monolithicSparse"},
                                         Case{Format::kVmdk, "streamOptimized"},
                                         Case{Format::kVhd, "dynamic"}, Case{Format::kVhd, "fixed"},
                                         Case{Format::kQcow2, ""}));

}  // namespace
}  // namespace ferry::image
