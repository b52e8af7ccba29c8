#include "workloads/workload.h"

#include "rt/str.h"

namespace guest {

extern const Workload kHelloWorkload;
extern const Workload kIdleWorkload;
extern const Workload kDirtierWorkload;
extern const Workload kDevstateWorkload;

namespace {

const Workload* const kWorkloads[] = {&kHelloWorkload, &kIdleWorkload, &kDirtierWorkload,
                                        &kDevstateWorkload};

}  // namespace

const Workload* find_workload(const char* name) {
  for (const Workload* w : kWorkloads) {
    if (str_equal(w->name, name)) return w;
  }
  return nullptr;
}

const char* workload_names() {
  return "hello, idle, dirtier, devstate";
}

}  // namespace guest
