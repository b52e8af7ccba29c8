// Runs the qcow2 consistency check and both repairs on a hostile image.
#include "fuzz_util.h"
#include "image/qcow2_check.h"
#include "image/qcow2_repair.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::image::qcow2;
  std::string path = ferry::fuzz::ScratchFile(data, size, "check.qcow2");
  (void)Check(path);
  // Repair writes: bound the file it may grow.
  if (size > (4 << 20)) return 0;
  for (RepairMode mode : {RepairMode::kLeaks, RepairMode::kAll}) {
    (void)Repair(path, mode);
    (void)Check(path);
  }
  return 0;
}
