// Probes a hostile file's format and opens it as that format, the path
// every command without -f takes.
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = ferry::fuzz::ScratchFile(data, size, "input.img");
  auto format = ferry::image::ProbeFormat(path);
  if (format.ok() && *format != ferry::image::Format::kRaw) {
    ferry::fuzz::OpenAndRead(data, size, *format, "input.img");
  }
  return 0;
}
