// Convert checkpoints: the file format, and the qcow2 writer state inside.
#include <cstdio>

#include "fuzz_util.h"
#include "image/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::image;
  (void)ParseCheckpoint(std::span<const uint8_t>(data, size));
  // The same bytes as a qcow2 writer's saved state for a 64 MiB disk.
  std::string path = ferry::fuzz::ScratchFile(nullptr, 0, "resume.qcow2");
  CreateOptions options;
  options.flush = false;
  auto writer =
      ResumeImage(Format::kQcow2, path, 64 << 20, options, std::span<const uint8_t>(data, size));
  if (writer.ok()) (void)(*writer)->Finish();
  return 0;
}
