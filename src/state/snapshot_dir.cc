#include "state/snapshot_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/fields.h"

namespace ferry::state {
namespace {

enum MemoryFileField : uint16_t { kFileName = 1, kFileSize = 2 };

std::string Join(const std::string& dir, const char* name) {
  return dir + "/" + name;
}

Result<Fd> CreateFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError("cannot create " + path);
  return fd;
}

Status PrepareDirectory(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) {
    return ErrnoError("cannot create snapshot directory " + dir);
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) {
    return Error(ErrorCode::kInvalidArgument, dir + " is not a directory");
  }
  if (::access(Join(dir, kStateFile).c_str(), F_OK) == 0) {
    return Error(ErrorCode::kFailedPrecondition,
                 dir + " already holds a snapshot: choose another --out or remove it");
  }
  return OkStatus();
}

Status WriteStateFile(const std::string& path, const MachineState& machine) {
  ASSIGN_OR_RETURN(Fd fd, CreateFile(path));
  FdSink sink(fd.get());
  SectionWriter writer(sink);
  RETURN_IF_ERROR(writer.WriteFileHeader());
  RETURN_IF_ERROR(WriteMachineConfig(writer, machine.config));
  FieldWriter memory;
  memory.PutString(kFileName, kMemoryFile);
  memory.Put<uint64_t>(kFileSize, machine.config.memory_bytes);
  RETURN_IF_ERROR(writer.Write(SectionType::kMemoryFile, 0, memory.bytes()));
  RETURN_IF_ERROR(WriteDeviceSections(writer, machine));
  RETURN_IF_ERROR(writer.WriteEnd());
  if (::fsync(fd.get()) < 0) return ErrnoError("fsync " + path);
  return OkStatus();
}

}  // namespace

Result<MemoryImageStats> SaveSnapshot(const std::string& dir, const MachineState& machine,
                                      const GuestMemory& memory) {
  RETURN_IF_ERROR(PrepareDirectory(dir));
  std::string memory_tmp = Join(dir, ".memory.partial");
  std::string state_tmp = Join(dir, ".state.partial");
  ASSIGN_OR_RETURN(Fd memory_fd, CreateFile(memory_tmp));
  Result<MemoryImageStats> stats = WriteMemoryImage(memory_fd.get(), memory);
  Status state_written = stats.ok() ? WriteStateFile(state_tmp, machine) : Status(stats.error());
  if (!state_written.ok()) {
    ::unlink(memory_tmp.c_str());
    ::unlink(state_tmp.c_str());
    return std::move(state_written).error();
  }
  // The state file is renamed last: its presence marks a complete snapshot.
  if (::rename(memory_tmp.c_str(), Join(dir, kMemoryFile).c_str()) < 0 ||
      ::rename(state_tmp.c_str(), Join(dir, kStateFile).c_str()) < 0) {
    return ErrnoError("completing the snapshot in " + dir);
  }
  return stats;
}

Result<LoadedSnapshot> LoadSnapshot(const std::string& dir) {
  std::string state_path = Join(dir, kStateFile);
  Fd state_fd(::open(state_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!state_fd.valid()) {
    if (errno == ENOENT) {
      return Error(ErrorCode::kNotFound, dir + " holds no snapshot (no " + state_path + ")");
    }
    return ErrnoError("cannot open " + state_path);
  }
  FdSource source(state_fd.get());
  SectionReader reader(source);
  RETURN_IF_ERROR_CTX(reader.ReadFileHeader(), state_path);
  LoadedSnapshot loaded;
  ASSIGN_OR_RETURN(Section first, reader.Next());
  Result<MachineConfig> config = ReadMachineConfig(first);
  if (!config.ok()) return std::move(config).error().WithContext(state_path);
  DeviceSectionCollector collector(*config);
  bool have_memory = false;
  std::string memory_name;
  for (;;) {
    Result<Section> section = reader.Next();
    if (!section.ok()) return std::move(section).error().WithContext(state_path);
    if (section->header.type == static_cast<uint32_t>(SectionType::kEnd)) break;
    if (section->header.type == static_cast<uint32_t>(SectionType::kMemoryFile)) {
      if (have_memory) return Error(ErrorCode::kCorrupt, state_path + ": two memory-file sections");
      ASSIGN_OR_RETURN(FieldReader f, FieldReader::Parse(section->payload, "memory-file"));
      ASSIGN_OR_RETURN(memory_name, f.GetString(kFileName, 255));
      ASSIGN_OR_RETURN(uint64_t size, f.Get<uint64_t>(kFileSize));
      if (size != config->memory_bytes || memory_name.empty() ||
          memory_name.find('/') != std::string::npos) {
        return Error(ErrorCode::kCorrupt, state_path + ": section 'memory-file' is inconsistent");
      }
      have_memory = true;
      continue;
    }
    Result<bool> taken = collector.Take(*section);
    if (!taken.ok()) return std::move(taken).error().WithContext(state_path);
    if (!*taken) {
      return Error(ErrorCode::kCorrupt, state_path + ": section '" + section->name() +
                                            "' does not belong in a snapshot");
    }
  }
  if (!have_memory) return Error(ErrorCode::kCorrupt, state_path + " lacks section 'memory-file'");
  Result<MachineState> machine = collector.Finish(*config);
  if (!machine.ok()) return std::move(machine).error().WithContext(state_path);
  loaded.machine = std::move(*machine);

  std::string memory_path = dir + "/" + memory_name;
  loaded.memory = Fd(::open(memory_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!loaded.memory.valid()) return ErrnoError("cannot open memory image " + memory_path);
  struct stat st;
  if (::fstat(loaded.memory.get(), &st) < 0) return ErrnoError("stat " + memory_path);
  if (static_cast<uint64_t>(st.st_size) != config->memory_bytes) {
    return Error(ErrorCode::kCorrupt, "memory image " + memory_path + " is " +
                                          std::to_string(st.st_size) + " bytes, expected " +
                                          std::to_string(config->memory_bytes) + " (truncated?)");
  }
  return loaded;
}

}  // namespace ferry::state
