#include "control/serve_vm.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>

#include "base/fd.h"

#include "control/api_server.h"
#include "control/vm_api.h"

namespace ferry {
namespace {

// Turns SIGINT/SIGTERM into a clean stop of the VM. The signals are blocked
// in every thread and read here from a signalfd, so the VMM never dies in the
// middle of a write; an eventfd ends the watcher at once when the VM stops.
class SignalWatcher {
 public:
  explicit SignalWatcher(VirtualMachine* vm) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    signals_ = Fd(::signalfd(-1, &set, SFD_CLOEXEC));
    done_ = Fd(::eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this, vm] { Watch(vm); });
  }
  ~SignalWatcher() {
    uint64_t one = 1;
    (void)!::write(done_.get(), &one, sizeof one);
    thread_.join();
  }

 private:
  void Watch(VirtualMachine* vm) {
    for (;;) {
      pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {done_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      signalfd_siginfo info;
      if ((fds[0].revents & POLLIN) && ::read(signals_.get(), &info, sizeof info) == sizeof info) {
        int sig = static_cast<int>(info.ssi_signo);
        vm->RequestStop({StopReason::Kind::kSignal, sig,
                         std::string("ended by signal ") + (sig == SIGINT ? "SIGINT" : "SIGTERM")});
      }
    }
  }
  Fd signals_;
  Fd done_;
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
            const std::string& command, const std::function<void()>& on_started,
            const Handover* handover) {
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
  Status ready = handover ? handover->ready() : OkStatus();
  SignalWatcher signals(vm.get());
  Status go = ready.ok() && handover ? handover->go() : ready;
  if (!go.ok()) {
    std::fprintf(stderr, "%s: %s\n", command.c_str(), go.error().message().c_str());
    vm->RequestStop({StopReason::Kind::kRequested, 0, "not handed over"});
    vm->Wait();
    return kExitSetupFailed;
  }
  Status started = handover ? vm->Resume() : vm->Start();
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
