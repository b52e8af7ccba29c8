#include "machine/kernel_image.h"

#include <elf.h>

#include <cstdio>
#include <cstring>

namespace ferry {
namespace {

constexpr uint32_t kXenElfNotePhys32Entry = 18;  // xen/include/public/elfnote.h
constexpr uint64_t kBzSetupHeader = 0x1f1;
constexpr uint32_t kBzHeaderMagic = 0x53726448;  // "HdrS" at 0x202
constexpr uint16_t kBzMinProtocol = 0x020c;      // first with xloadflags / the 64-bit entry
constexpr uint16_t kXlfKernel64 = 1 << 0;

template <typename T>
bool ReadAt(std::span<const uint8_t> file, uint64_t offset, T* out) {
  if (offset > file.size() || sizeof(T) > file.size() - offset) return false;
  std::memcpy(out, file.data() + offset, sizeof(T));
  return true;
}

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, what);
}

uint64_t Align4(uint64_t n) {
  return (n + 3) & ~uint64_t{3};
}

// Walks one PT_NOTE segment looking for the PVH entry note.
Result<bool> FindPvhEntry(std::span<const uint8_t> notes, uint32_t* entry) {
  uint64_t pos = 0;
  while (notes.size() - pos >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr note;
    std::memcpy(&note, notes.data() + pos, sizeof note);
    uint64_t name_at = pos + sizeof note;
    uint64_t desc_at = name_at + Align4(note.n_namesz);
    uint64_t next = desc_at + Align4(note.n_descsz);
    if (note.n_namesz > notes.size() || note.n_descsz > notes.size() || next > notes.size()) {
      return Corrupt("ELF note runs past the end of its segment");
    }
    bool is_xen = note.n_namesz == 4 && std::memcmp(notes.data() + name_at, "Xen", 4) == 0;
    if (is_xen && note.n_type == kXenElfNotePhys32Entry) {
      if (note.n_descsz != 4 && note.n_descsz != 8) {
        return Corrupt("PVH entry note has a " + std::to_string(note.n_descsz) + "-byte value");
      }
      std::memcpy(entry, notes.data() + desc_at, 4);  // little-endian: low 32 bits first
      return true;
    }
    pos = next;
  }
  return false;
}

template <typename Ehdr, typename Phdr>
Result<PvhElf> ParseElfClass(std::span<const uint8_t> file) {
  Ehdr header;
  if (!ReadAt(file, 0, &header)) return Corrupt("ELF header is truncated");
  if (header.e_machine != EM_X86_64 && header.e_machine != EM_386) {
    return Corrupt("ELF is not for x86 (e_machine " + std::to_string(header.e_machine) + ")");
  }
  if (header.e_phentsize != sizeof(Phdr) || header.e_phnum == 0 || header.e_phnum > 512) {
    return Corrupt("ELF program header table is malformed");
  }
  PvhElf image{0, {}};
  bool have_entry = false;
  for (uint32_t i = 0; i < header.e_phnum; ++i) {
    Phdr ph;
    if (!ReadAt(file, header.e_phoff + uint64_t{i} * sizeof(Phdr), &ph)) {
      return Corrupt("ELF program header " + std::to_string(i) + " is past the end of the file");
    }
    if (ph.p_offset > file.size() || ph.p_filesz > file.size() - ph.p_offset) {
      return Corrupt("ELF segment " + std::to_string(i) + " is past the end of the file");
    }
    if (ph.p_type == PT_LOAD) {
      if (ph.p_filesz > ph.p_memsz) {
        return Corrupt("ELF segment " + std::to_string(i) +
                       " is larger in the file than in memory");
      }
      if (ph.p_paddr + ph.p_memsz < ph.p_paddr) {
        return Corrupt("ELF segment " + std::to_string(i) + " wraps around the address space");
      }
      image.segments.push_back({ph.p_offset, ph.p_filesz, ph.p_memsz, ph.p_paddr});
    } else if (ph.p_type == PT_NOTE && !have_entry) {
      ASSIGN_OR_RETURN(have_entry,
                       FindPvhEntry(file.subspan(ph.p_offset, ph.p_filesz), &image.entry));
    }
  }
  if (!have_entry) {
    return Error(ErrorCode::kInvalidArgument,
                 "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY): ferry boots ELF "
                 "kernels through PVH only");
  }
  if (image.segments.empty()) return Corrupt("ELF kernel has no loadable segment");
  return image;
}

}  // namespace

Result<KernelKind> DetectKernelKind(std::span<const uint8_t> file) {
  if (file.size() >= 4 && std::memcmp(file.data(), ELFMAG, SELFMAG) == 0) {
    return KernelKind::kPvhElf;
  }
  uint32_t magic = 0;
  if (ReadAt(file, 0x202, &magic) && magic == kBzHeaderMagic) return KernelKind::kBzImage;
  return Error(ErrorCode::kInvalidArgument,
               "not a kernel ferry can boot: neither an ELF with a PVH note nor a bzImage");
}

Result<PvhElf> ParsePvhElf(std::span<const uint8_t> file) {
  if (file.size() < EI_NIDENT || std::memcmp(file.data(), ELFMAG, SELFMAG) != 0) {
    return Corrupt("not an ELF file");
  }
  switch (file[EI_CLASS]) {
    case ELFCLASS64:
      return ParseElfClass<Elf64_Ehdr, Elf64_Phdr>(file);
    case ELFCLASS32:
      return ParseElfClass<Elf32_Ehdr, Elf32_Phdr>(file);
    default:
      return Corrupt("ELF class " + std::to_string(file[EI_CLASS]) + " is unknown");
  }
}

Result<BzImage> ParseBzImage(std::span<const uint8_t> file) {
  uint32_t magic = 0;
  if (!ReadAt(file, 0x202, &magic) || magic != kBzHeaderMagic) {
    return Corrupt("bzImage setup header (HdrS) not found");
  }
  uint8_t setup_sects = 0;
  uint16_t protocol = 0;
  uint8_t header_jump = 0;
  uint8_t loadflags = 0;
  uint16_t xloadflags = 0;
  uint32_t cmdline_size = 255;
  uint32_t init_size = 0;
  if (!ReadAt(file, kBzSetupHeader, &setup_sects) || !ReadAt(file, 0x206, &protocol) ||
      !ReadAt(file, 0x201, &header_jump) || !ReadAt(file, 0x211, &loadflags)) {
    return Corrupt("bzImage setup header is truncated");
  }
  if (protocol < kBzMinProtocol) {
    char buf[128];
    std::snprintf(buf, sizeof buf,
                  "bzImage speaks boot protocol %u.%02u; ferry needs 2.12 or later (64-bit entry)",
                  protocol >> 8, protocol & 0xff);
    return Error(ErrorCode::kInvalidArgument, buf);
  }
  if (!ReadAt(file, 0x236, &xloadflags) || !ReadAt(file, 0x238, &cmdline_size) ||
      !ReadAt(file, 0x260, &init_size)) {
    return Corrupt("bzImage setup header is truncated");
  }
  if ((xloadflags & kXlfKernel64) == 0) {
    return Error(ErrorCode::kInvalidArgument, "bzImage has no 64-bit entry point (XLF_KERNEL_64)");
  }
  if ((loadflags & 1) == 0) {
    return Error(ErrorCode::kInvalidArgument, "bzImage is a zImage (not loaded high)");
  }
  if (setup_sects == 0) setup_sects = 4;
  uint64_t setup_bytes = (uint64_t{setup_sects} + 1) * 512;
  if (setup_bytes >= file.size()) return Corrupt("bzImage has no protected-mode kernel");
  BzImage image{};
  image.protocol = protocol;
  image.setup_bytes = setup_bytes;
  image.kernel_offset = setup_bytes;
  image.kernel_size = file.size() - setup_bytes;
  image.init_size = init_size;
  image.cmdline_max = cmdline_size;
  image.setup_header_end = 0x202 + uint64_t{header_jump};
  if (image.setup_header_end > setup_bytes || image.setup_header_end <= 0x202) {
    return Corrupt("bzImage setup header length is out of range");
  }
  return image;
}

}  // namespace ferry
