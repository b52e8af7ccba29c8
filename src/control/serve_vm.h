// Runs a created or restored VM in the foreground: control socket, signals,
// and the process exit status from the way the VM ended.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "vm/virtual_machine.h"

namespace ferry {

// `api_path` may be empty (no control socket). `command` prefixes messages.
// `on_started`, if given, runs once the vCPUs are running (the migration
// receiver confirms the handover there).
//
// A migration destination passes a VM already started paused (StartPaused)
// and `handover`: `ready` runs once the control socket is up (a socket that
// cannot be served must fail before the source lets go), the signal watcher
// starts while the source answers, and the VM resumes once `go` succeeds; if
// either fails, the VM never runs and the exit status is 240.
struct Handover {
  std::function<Status()> ready;
  std::function<Status()> go;
};
int ServeVm(std::unique_ptr<VirtualMachine> vm, const std::string& api_path,
            const std::string& command, const std::function<void()>& on_started = {},
            const Handover* handover = nullptr);

// Blocks SIGINT/SIGTERM in the calling thread and every thread it creates
// afterwards, so ServeVm can take them as a clean stop.
void BlockTerminationSignals();

}  // namespace ferry
