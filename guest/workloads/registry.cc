#include "workloads/workload.h"

#include "rt/str.h"

namespace guest {

extern const Workload kHelloWorkload;
extern const Workload kIdleWorkload;
extern const Workload kDirtierWorkload;
extern const Workload kDevstateWorkload;
extern const Workload kDiskcheckWorkload;
extern const Workload kDiskbenchWorkload;
extern const Workload kNetechoWorkload;
extern const Workload kNetblastWorkload;
extern const Workload kRngcheckWorkload;

namespace {

const Workload* const kWorkloads[] = {&kHelloWorkload,    &kIdleWorkload,      &kDirtierWorkload,
                                      &kDevstateWorkload, &kDiskcheckWorkload, &kDiskbenchWorkload,
                                      &kNetechoWorkload,  &kNetblastWorkload,  &kRngcheckWorkload};

}  // namespace

const Workload* find_workload(const char* name) {
  for (const Workload* w : kWorkloads) {
    if (str_equal(w->name, name)) return w;
  }
  return nullptr;
}

const char* workload_names() {
  return "hello, idle, dirtier, devstate, diskcheck, diskbench, netecho, netblast, rngcheck";
}

}  // namespace guest
