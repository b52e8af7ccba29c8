// Writes well-formed migration streams for fuzz_migration_stream's corpus:
//   migration_stream_seed OUTDIR
// plain.bin: a 32 MiB, 1-vCPU machine, two pages and a zero page, a sync,
// the device state and the end, as a pre-copy sender writes them (without
// the replies, which go the other way). disk.bin: the same with a disk plan
// asking to copy a 1 MiB disk in 64 KiB chunks.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "migration/page_batch.h"
#include "state/disk_plan.h"
#include "state/machine_state.h"

namespace {

using namespace ferry;

state::MachineState Machine() {
  state::MachineState s;
  s.config.memory_bytes = 32ull << 20;
  s.config.cpus = 1;
  s.config.cmdline = "fuzz seed";
  s.vcpus.resize(1);
  s.vcpus[0].xsave.assign(4096, 0);
  s.vcpus[0].regs.rip = 0x100000;
  return s;
}

Status WriteStream(const std::string& path, bool with_disk) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("creating " + path);
  state::FdSink sink(fd);
  state::SectionWriter writer(sink);
  state::MachineState machine = Machine();
  Status status = [&]() -> Status {
    RETURN_IF_ERROR(writer.WriteFileHeader());
    RETURN_IF_ERROR(state::WriteMachineConfig(writer, machine.config));
    if (with_disk) {
      state::DiskPlanEntry disk;
      disk.size_bytes = 1 << 20;
      disk.chunk_bytes = 64 << 10;
      disk.mode = state::DiskMode::kCopy;
      disk.session[0] = 1;
      disk.source_path = "/var/lib/ferry/disk.img";
      RETURN_IF_ERROR(state::WriteDiskPlan(writer, {disk}));
    }
    static uint8_t page_a[4096], page_b[4096];
    for (int i = 0; i < 4096; ++i) {
      page_a[i] = static_cast<uint8_t>(i);
      page_b[i] = static_cast<uint8_t>(255 - i);
    }
    migration::PageBatch batch(64);
    batch.AddNormal(0, page_a);
    batch.AddZero(5);
    batch.AddNormal(100, page_b);
    RETURN_IF_ERROR(batch.Flush(writer));
    RETURN_IF_ERROR(writer.Write(state::SectionType::kSync, 0, {}));
    RETURN_IF_ERROR(state::WriteDeviceSections(writer, machine));
    return writer.WriteEnd();
  }();
  ::close(fd);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: migration_stream_seed OUTDIR\n");
    return 2;
  }
  std::string dir = argv[1];
  for (auto [name, disk] : {std::pair{"plain.bin", false}, std::pair{"disk.bin", true}}) {
    Status written = WriteStream(dir + "/" + name, disk);
    if (!written.ok()) {
      std::fprintf(stderr, "migration_stream_seed: %s\n", written.error().message().c_str());
      return 1;
    }
  }
  return 0;
}
