#include "control/serve_vm.h"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "control/api_server.h"
#include "control/vm_api.h"

namespace ferry {
namespace {

// Turns SIGINT/SIGTERM into a clean stop of the VM (blocked in every thread,
// taken here with sigtimedwait so the VMM never dies in the middle of a write).
class SignalWatcher {
 public:
  explicit SignalWatcher(VirtualMachine* vm) : thread_([this, vm] { Watch(vm); }) {}
  ~SignalWatcher() {
    done_ = true;
    thread_.join();
  }

 private:
  void Watch(VirtualMachine* vm) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    timespec tick{0, 50'000'000};
    while (!done_) {
      int sig = sigtimedwait(&set, nullptr, &tick);
      if (sig > 0) {
        vm->RequestStop({StopReason::Kind::kSignal, sig,
                         std::string("ended by signal ") + (sig == SIGINT ? "SIGINT" : "SIGTERM")});
      }
    }
  }
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int ServeVm(std::unique_ptr<VirtualMachine> vm, const std::string& api_path,
            const std::string& command, const std::function<void()>& on_started) {
  VmApiHandler handler(vm.get());
  std::unique_ptr<ApiServer> api;
  if (!api_path.empty()) {
    Result<std::unique_ptr<ApiServer>> server = ApiServer::Start(api_path, &handler);
    if (!server.ok()) {
      std::fprintf(stderr, "%s: %s\n", command.c_str(), server.error().message().c_str());
      return kExitSetupFailed;
    }
    api = std::move(*server);
  }
  SignalWatcher signals(vm.get());
  Status started = vm->Start();
  if (!started.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), started.error().message().c_str());
    return kExitSetupFailed;
  }
  if (on_started) on_started();
  StopReason reason = vm->Wait();
  api.reset();
  switch (reason.kind) {
    case StopReason::Kind::kGuestExit:
    case StopReason::Kind::kRequested:
      break;
    default:
      std::fprintf(stderr, "%s: %s\n", command.c_str(), reason.message.c_str());
  }
  return reason.ExitCode();
}

}  // namespace ferry
