#include "image/undo_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

namespace ferry::image {
namespace {

std::string Scratch(const char* name) {
  return testing::TempDir() + "/ferry_undo_" + std::to_string(::getpid()) + "_" + name;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAt(const std::string& path, long offset, const std::string& data) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(offset);
  f.write(data.data(), std::streamsize(data.size()));
}

TEST(UndoLog, RestoresTheFirstContentsOfEveryWrittenRange) {
  const std::string disk = Scratch("disk"), log = Scratch("log");
  std::string original(64 * 1024, '\0');
  for (size_t i = 0; i < original.size(); ++i) original[i] = char(i * 7 + 3);
  std::ofstream(disk, std::ios::binary) << original;
  {
    auto undo = UndoLog::Create(log, disk);
    ASSERT_TRUE(undo.ok());
    ASSERT_TRUE(undo->SaveBefore(1000, 3000).ok());  // unaligned: whole sectors saved
    WriteAt(disk, 1000, std::string(3000, 'x'));
    // Overlapping the first write: only the new sectors are saved, from
    // their untouched contents, not the 'x' already there.
    ASSERT_TRUE(undo->SaveBefore(3500, 2000).ok());
    WriteAt(disk, 3500, std::string(2000, 'y'));
    ASSERT_TRUE(undo->SaveBefore(60000, 512).ok());
    WriteAt(disk, 60000, std::string(512, 'z'));
  }
  // A torn last record (the process died while appending it) is ignored.
  std::ofstream(log, std::ios::binary | std::ios::app) << std::string(20, '\x01');
  auto applied = RestoreFromUndoLog(log, disk);
  ASSERT_TRUE(applied.ok()) << applied.error().message();
  EXPECT_EQ(*applied, 3u);
  EXPECT_EQ(ReadAll(disk), original);
  // Applying it again changes nothing (a rerun killed while restoring).
  ASSERT_TRUE(RestoreFromUndoLog(log, disk).ok());
  EXPECT_EQ(ReadAll(disk), original);
  ::unlink(disk.c_str());
  ::unlink(log.c_str());
}

TEST(UndoLog, RefusesAFileThatIsNotALog) {
  const std::string disk = Scratch("disk2"), log = Scratch("log2");
  std::ofstream(disk, std::ios::binary) << std::string(4096, 'a');
  std::ofstream(log, std::ios::binary) << "not an undo log at all";
  EXPECT_FALSE(RestoreFromUndoLog(log, disk).ok());
  ::unlink(disk.c_str());
  ::unlink(log.c_str());
}

}  // namespace
}  // namespace ferry::image
