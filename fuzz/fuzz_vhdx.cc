// Opens, maps and reads a hostile vhdx image (see fuzz_util.h).
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::fuzz::OpenAndRead(data, size, ferry::image::Format::kVhdx, "input.vhdx");
  return 0;
}
