// hello [--exit N]: every CPU says hello; the guest exits with N.
#include "rt/console.h"
#include "workloads/workload.h"

namespace guest {
namespace {

uint32_t g_exit_status = 0;

void configure(Args& args, const Machine&) {
  g_exit_status = static_cast<uint32_t>(args.number("exit", 0, 0, 0x7fffffff));
}

uint32_t run(int cpu) {
  console::print("hello from ferry-guest cpu=%d\n", cpu);
  return g_exit_status;
}

}  // namespace

extern const Workload kHelloWorkload = {"hello", configure, run};

}  // namespace guest
