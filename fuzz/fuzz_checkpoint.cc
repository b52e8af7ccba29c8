// Convert checkpoints: the file format, and the writer states inside (qcow2,
// VMDK monolithicSparse and streamOptimized, VHD dynamic and fixed).
#include <cstdio>

#include "fuzz_util.h"
#include "image/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::image;
  (void)ParseCheckpoint(std::span<const uint8_t>(data, size));
  // The same bytes as each resumable writer's saved state for a 64 MiB disk.
  struct Target {
    Format format;
    const char* subformat;
  };
  for (Target t : {Target{Format::kQcow2, ""}, Target{Format::kVmdk, "monolithicSparse"},
                   Target{Format::kVmdk, "streamOptimized"}, Target{Format::kVhd, "dynamic"},
                   Target{Format::kVhd, "fixed"}}) {
    std::string path = ferry::fuzz::ScratchFile(nullptr, 0, "resume.img");
    CreateOptions options;
    options.flush = false;
    options.subformat = t.subformat;
    auto writer =
        ResumeImage(t.format, path, 64 << 20, options, std::span<const uint8_t>(data, size));
    if (writer.ok()) (void)(*writer)->Finish();
  }
  return 0;
}
