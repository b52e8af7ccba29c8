// Placeholder until the workload lands.
#include "rt/exit.h"
#include "workloads/workload.h"
namespace guest {
namespace {
void c(Args&, const Machine&) {
  fatal(kExitBadConfig, "diskbench is not implemented yet");
}
uint32_t r(int) {
  return kExitBadConfig;
}
}  // namespace
extern const Workload kDiskbenchWorkload = {"diskbench", c, r};
}  // namespace guest
