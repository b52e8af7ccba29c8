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
// receiver confirms the handover there). A VM already started paused
// (StartPaused) is resumed once `await_go` succeeds; if it fails, the VM
// never runs and the exit status is 240.
int ServeVm(std::unique_ptr<VirtualMachine> vm, const std::string& api_path,
            const std::string& command, const std::function<void()>& on_started = {},
            const std::function<Status()>& await_go = {});

// Blocks SIGINT/SIGTERM in the calling thread and every thread it creates
// afterwards, so ServeVm can take them as a clean stop.
void BlockTerminationSignals();

}  // namespace ferry
