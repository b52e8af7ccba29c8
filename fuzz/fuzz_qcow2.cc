// Opens, maps and reads a hostile qcow2 image (see fuzz_util.h).
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::fuzz::OpenAndRead(data, size, ferry::image::Format::kQcow2, "input.qcow2");
  return 0;
}
