// The tar reader behind OVA packages, on a hostile archive.
#include "fuzz_util.h"
#include "image/file.h"
#include "image/tar.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = ferry::fuzz::ScratchFile(data, size, "input.ova");
  auto file = ferry::image::ImageFile::Open(path, false);
  if (file.ok()) (void)ferry::image::ListTar(*file);
  return 0;
}
