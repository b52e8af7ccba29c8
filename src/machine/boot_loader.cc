#include "machine/boot_loader.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>
#include <vector>

#include "base/fd.h"
#include "base/mapping.h"
#include "base/units.h"
#include "machine/acpi.h"
#include "machine/kernel_image.h"
#include "machine/layout.h"

namespace ferry {
namespace {

// Zero-page offsets from Documentation/arch/x86/zero-page.rst and boot.rst.
constexpr uint64_t kZpE820Entries = 0x1e8;
constexpr uint64_t kZpSetupHeader = 0x1f1;
constexpr uint64_t kZpTypeOfLoader = 0x210;
constexpr uint64_t kZpLoadflags = 0x211;
constexpr uint64_t kZpHeapEndPtr = 0x224;
constexpr uint64_t kZpCmdLinePtr = 0x228;
constexpr uint64_t kZpAcpiRsdpAddr = 0x070;
constexpr uint64_t kZpE820Table = 0x2d0;
constexpr size_t kZpE820Max = 128;
constexpr uint8_t kCanUseHeap = 0x80;

Status CheckBelowMmioHole(uint64_t addr, uint64_t size, const GuestMemory& memory,
                          const std::string& what) {
  if (addr < layout::kHighMemory) {
    return Error(ErrorCode::kInvalidArgument,
                 what + " wants to load below 1 MiB, where ferry keeps its boot structures");
  }
  if (!memory.Translate(addr, size).ok()) {
    return Error(ErrorCode::kInvalidArgument, what + " does not fit in guest RAM (" +
                                                  FormatSize(memory.ram_bytes()) +
                                                  "): give more --memory");
  }
  return OkStatus();
}

Status WriteCmdline(const std::string& cmdline, uint64_t max_len, GuestMemory& memory) {
  if (cmdline.size() + 1 > max_len) {
    return Error(ErrorCode::kInvalidArgument, "--cmdline is " + std::to_string(cmdline.size()) +
                                                  " bytes; this kernel accepts at most " +
                                                  std::to_string(max_len - 1));
  }
  std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
  bytes.push_back(0);
  return memory.Write(layout::kCmdline, bytes);
}

Status WriteAcpi(uint32_t cpu_count, GuestMemory& memory) {
  std::vector<uint8_t> tables = BuildAcpiTables(layout::kAcpiTables, cpu_count);
  return memory.Write(layout::kAcpiTables, tables);
}

Result<Mapping> MapFile(const std::string& path, size_t* size) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoError("cannot open kernel " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return ErrnoError("stat " + path);
  if (!S_ISREG(st.st_mode)) {
    return Error(ErrorCode::kInvalidArgument, "kernel " + path + " is not a regular file");
  }
  if (st.st_size == 0) return Error(ErrorCode::kInvalidArgument, "kernel " + path + " is empty");
  *size = static_cast<size_t>(st.st_size);
  return Mapping::File(fd.get(), *size, 0, PROT_READ, MAP_PRIVATE);
}

}  // namespace

Result<BootPlan> LoadPvhKernel(std::span<const uint8_t> file, const BootConfig& config,
                               GuestMemory& memory) {
  ASSIGN_OR_RETURN(PvhElf elf, ParsePvhElf(file));
  for (const ElfSegment& segment : elf.segments) {
    RETURN_IF_ERROR(
        CheckBelowMmioHole(segment.guest_addr, segment.mem_size, memory, "a kernel segment"));
    RETURN_IF_ERROR(
        memory.Write(segment.guest_addr, file.subspan(segment.file_offset, segment.file_size)));
    RETURN_IF_ERROR(memory.Fill(segment.guest_addr + segment.file_size, 0,
                                segment.mem_size - segment.file_size));
  }
  RETURN_IF_ERROR(WriteCmdline(config.cmdline, layout::kCmdlineMax, memory));
  RETURN_IF_ERROR(WriteAcpi(config.cpu_count, memory));

  std::vector<E820Entry> e820 = BuildE820(memory.ram_bytes());
  HvmStartInfo info{};
  info.magic = kHvmStartMagic;
  info.version = 1;
  info.cmdline_paddr = layout::kCmdline;
  info.rsdp_paddr = layout::kAcpiTables;
  info.memmap_paddr = layout::kStartInfo + sizeof(HvmStartInfo);
  info.memmap_entries = static_cast<uint32_t>(e820.size());
  RETURN_IF_ERROR(memory.WriteObject(layout::kStartInfo, info));
  for (size_t i = 0; i < e820.size(); ++i) {
    HvmMemmapEntry entry{e820[i].addr, e820[i].size, static_cast<uint32_t>(e820[i].type), 0};
    RETURN_IF_ERROR(memory.WriteObject(info.memmap_paddr + i * sizeof entry, entry));
  }
  return BootPlan{BootPlan::Entry::kPvh32, elf.entry, layout::kStartInfo};
}

Result<BootPlan> LoadBzImageKernel(std::span<const uint8_t> file, const BootConfig& config,
                                   GuestMemory& memory) {
  ASSIGN_OR_RETURN(BzImage image, ParseBzImage(file));
  const uint64_t load_addr = layout::kHighMemory;
  uint64_t needed = std::max<uint64_t>(image.kernel_size, image.init_size);
  RETURN_IF_ERROR(CheckBelowMmioHole(load_addr, needed, memory, "the bzImage kernel"));
  RETURN_IF_ERROR(memory.Write(load_addr, file.subspan(image.kernel_offset, image.kernel_size)));
  RETURN_IF_ERROR(WriteCmdline(config.cmdline, uint64_t{image.cmdline_max} + 1, memory));
  RETURN_IF_ERROR(WriteAcpi(config.cpu_count, memory));

  std::vector<uint8_t> zero_page(layout::kPageSize, 0);
  std::memcpy(&zero_page[kZpSetupHeader], file.data() + kZpSetupHeader,
              image.setup_header_end - kZpSetupHeader);
  zero_page[kZpTypeOfLoader] = 0xff;  // "undefined" boot loader
  zero_page[kZpLoadflags] |= kCanUseHeap;
  uint16_t heap_end = 0xfe00;
  std::memcpy(&zero_page[kZpHeapEndPtr], &heap_end, 2);
  uint32_t cmdline_ptr = layout::kCmdline;
  std::memcpy(&zero_page[kZpCmdLinePtr], &cmdline_ptr, 4);
  uint64_t rsdp = layout::kAcpiTables;
  std::memcpy(&zero_page[kZpAcpiRsdpAddr], &rsdp, 8);
  std::vector<E820Entry> e820 = BuildE820(memory.ram_bytes());
  if (e820.size() > kZpE820Max) return Error(ErrorCode::kInternal, "e820 map too long");
  zero_page[kZpE820Entries] = static_cast<uint8_t>(e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    uint8_t* slot = &zero_page[kZpE820Table + i * 20];
    uint32_t type = static_cast<uint32_t>(e820[i].type);
    std::memcpy(slot, &e820[i].addr, 8);
    std::memcpy(slot + 8, &e820[i].size, 8);
    std::memcpy(slot + 16, &type, 4);
  }
  RETURN_IF_ERROR(memory.Write(layout::kBootParams, zero_page));

  // 64-bit entry: identity-mapped 4 GiB in 2 MiB pages and a flat GDT.
  const uint64_t kPresentWritable = 0x3;
  const uint64_t kHuge = 0x80;
  RETURN_IF_ERROR(memory.WriteObject(layout::kPml4, layout::kPdpt | kPresentWritable));
  for (uint64_t i = 0; i < 4; ++i) {
    uint64_t pd = layout::kPd + i * layout::kPageSize;
    RETURN_IF_ERROR(memory.WriteObject(layout::kPdpt + i * 8, pd | kPresentWritable));
    for (uint64_t j = 0; j < 512; ++j) {
      uint64_t addr = (i << 30) | (j << 21);
      RETURN_IF_ERROR(memory.WriteObject(pd + j * 8, addr | kPresentWritable | kHuge));
    }
  }
  const uint64_t gdt[] = {0, 0, 0x00af9b000000ffff /* code64 */, 0x00cf93000000ffff /* data */};
  RETURN_IF_ERROR(memory.WriteObject(layout::kBootGdt, gdt));
  return BootPlan{BootPlan::Entry::kLinux64, load_addr + 0x200, layout::kBootParams};
}

Status CheckKernel(const std::string& kernel_path) {
  size_t size = 0;
  ASSIGN_OR_RETURN(Mapping file, MapFile(kernel_path, &size));
  std::span<const uint8_t> bytes(file.data(), size);
  ASSIGN_OR_RETURN(KernelKind kind, DetectKernelKind(bytes));
  const std::string context = "kernel " + kernel_path;
  if (kind == KernelKind::kPvhElf) {
    RETURN_IF_ERROR_CTX(ParsePvhElf(bytes), context);
  } else {
    RETURN_IF_ERROR_CTX(ParseBzImage(bytes), context);
  }
  return OkStatus();
}

Result<BootPlan> LoadKernel(const BootConfig& config, GuestMemory& memory) {
  size_t size = 0;
  ASSIGN_OR_RETURN(Mapping file, MapFile(config.kernel_path, &size));
  std::span<const uint8_t> bytes(file.data(), size);
  ASSIGN_OR_RETURN(KernelKind kind, DetectKernelKind(bytes));
  Result<BootPlan> plan = kind == KernelKind::kPvhElf ? LoadPvhKernel(bytes, config, memory)
                                                      : LoadBzImageKernel(bytes, config, memory);
  if (!plan.ok()) return std::move(plan).error().WithContext("kernel " + config.kernel_path);
  return plan;
}

}  // namespace ferry
