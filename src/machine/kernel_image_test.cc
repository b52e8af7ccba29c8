#include "machine/kernel_image.h"

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace ferry {
namespace {

// A minimal ELF64 with one PT_LOAD and one PT_NOTE holding the given notes.
std::vector<uint8_t> MakeElf(const std::vector<uint8_t>& notes, uint16_t machine = EM_X86_64) {
  std::vector<uint8_t> file(0x1000, 0);
  Elf64_Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = ELFCLASS64;
  eh.e_machine = machine;
  eh.e_phoff = sizeof eh;
  eh.e_phentsize = sizeof(Elf64_Phdr);
  eh.e_phnum = 2;
  std::memcpy(file.data(), &eh, sizeof eh);
  Elf64_Phdr load{};
  load.p_type = PT_LOAD;
  load.p_offset = 0x800;
  load.p_filesz = 0x100;
  load.p_memsz = 0x200;
  load.p_paddr = 0x100000;
  Elf64_Phdr note{};
  note.p_type = PT_NOTE;
  note.p_offset = 0x400;
  note.p_filesz = notes.size();
  std::memcpy(file.data() + sizeof eh, &load, sizeof load);
  std::memcpy(file.data() + sizeof eh + sizeof load, &note, sizeof note);
  if (!notes.empty()) std::memcpy(file.data() + 0x400, notes.data(), notes.size());
  return file;
}

void AppendNote(std::vector<uint8_t>& out, const char* name, uint32_t type,
                std::vector<uint8_t> desc) {
  uint32_t namesz = static_cast<uint32_t>(std::strlen(name) + 1);
  uint32_t header[3] = {namesz, static_cast<uint32_t>(desc.size()), type};
  out.insert(out.end(), reinterpret_cast<uint8_t*>(header),
             reinterpret_cast<uint8_t*>(header) + 12);
  out.insert(out.end(), name, name + namesz);
  while (out.size() % 4) out.push_back(0);
  out.insert(out.end(), desc.begin(), desc.end());
  while (out.size() % 4) out.push_back(0);
}

TEST(ParsePvhElf, FindsTheEntryAmongOtherNotes) {
  std::vector<uint8_t> notes;
  AppendNote(notes, "GNU", 3,
             {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20});
  AppendNote(notes, "Xen", 6, {'l', 'i', 'n', 'u', 'x', 0});
  AppendNote(notes, "Xen", 18, {0x50, 0x08, 0x00, 0x01});
  Result<PvhElf> elf = ParsePvhElf(MakeElf(notes));
  ASSERT_TRUE(elf.ok()) << elf.error().message();
  EXPECT_EQ(elf->entry, 0x01000850u);
  ASSERT_EQ(elf->segments.size(), 1u);
  EXPECT_EQ(elf->segments[0].guest_addr, 0x100000u);
  EXPECT_EQ(elf->segments[0].mem_size, 0x200u);
}

TEST(ParsePvhElf, AcceptsAnEightByteEntry) {
  std::vector<uint8_t> notes;
  AppendNote(notes, "Xen", 18, {0x00, 0x10, 0x10, 0x00, 0, 0, 0, 0});
  Result<PvhElf> elf = ParsePvhElf(MakeElf(notes));
  ASSERT_TRUE(elf.ok());
  EXPECT_EQ(elf->entry, 0x101000u);
}

TEST(ParsePvhElf, RefusesAnElfWithoutTheNote) {
  std::vector<uint8_t> notes;
  AppendNote(notes, "Xen", 6, {'x', 0});
  Result<PvhElf> elf = ParsePvhElf(MakeElf(notes));
  ASSERT_FALSE(elf.ok());
  EXPECT_NE(elf.error().message().find("PVH entry note"), std::string::npos);
}

TEST(ParsePvhElf, RefusesNotesThatRunPastTheSegment) {
  std::vector<uint8_t> notes;
  AppendNote(notes, "Xen", 18, {0, 0, 0x10, 0});
  notes[4] = 0xff;  // descsz far beyond the segment
  EXPECT_EQ(ParsePvhElf(MakeElf(notes)).error().code(), ErrorCode::kCorrupt);
}

TEST(ParsePvhElf, RefusesSegmentsPastTheEndOfTheFile) {
  std::vector<uint8_t> notes;
  AppendNote(notes, "Xen", 18, {0, 0, 0x10, 0});
  std::vector<uint8_t> file = MakeElf(notes);
  file.resize(0x850);  // the PT_LOAD data at 0x800..0x900 is cut
  EXPECT_EQ(ParsePvhElf(file).error().code(), ErrorCode::kCorrupt);
}

TEST(ParsePvhElf, RefusesOtherArchitectures) {
  std::vector<uint8_t> notes;
  AppendNote(notes, "Xen", 18, {0, 0, 0x10, 0});
  EXPECT_FALSE(ParsePvhElf(MakeElf(notes, EM_AARCH64)).ok());
}

std::vector<uint8_t> MakeBzImage(uint16_t protocol, uint16_t xloadflags) {
  std::vector<uint8_t> file(5 * 512 + 4096, 0);
  file[0x1f1] = 4;     // setup_sects
  file[0x201] = 0x6a;  // jump over the header: header ends at 0x26c
  std::memcpy(&file[0x202], "HdrS", 4);
  std::memcpy(&file[0x206], &protocol, 2);
  file[0x211] = 1;  // LOADED_HIGH
  std::memcpy(&file[0x236], &xloadflags, 2);
  uint32_t cmdline_size = 2047;
  std::memcpy(&file[0x238], &cmdline_size, 4);
  uint32_t init_size = 0x800000;
  std::memcpy(&file[0x260], &init_size, 4);
  return file;
}

TEST(ParseBzImage, ReadsTheSetupHeader) {
  Result<BzImage> image = ParseBzImage(MakeBzImage(0x020f, 1));
  ASSERT_TRUE(image.ok()) << image.error().message();
  EXPECT_EQ(image->kernel_offset, 5u * 512);
  EXPECT_EQ(image->kernel_size, 4096u);
  EXPECT_EQ(image->init_size, 0x800000u);
  EXPECT_EQ(image->cmdline_max, 2047u);
  EXPECT_EQ(image->setup_header_end, 0x26cu);
}

TEST(ParseBzImage, NeedsProtocol212AndA64BitEntry) {
  EXPECT_FALSE(ParseBzImage(MakeBzImage(0x020a, 1)).ok());
  EXPECT_FALSE(ParseBzImage(MakeBzImage(0x020f, 0)).ok());
}

TEST(DetectKernelKind, TellsTheFormatsApart) {
  EXPECT_EQ(*DetectKernelKind(MakeBzImage(0x020f, 1)), KernelKind::kBzImage);
  std::vector<uint8_t> notes;
  EXPECT_EQ(*DetectKernelKind(MakeElf(notes)), KernelKind::kPvhElf);
  std::vector<uint8_t> text(1000, 'a');
  EXPECT_FALSE(DetectKernelKind(text).ok());
}

}  // namespace
}  // namespace ferry
