// `ferry run`: boot a VM in the foreground, serve its control socket, and exit
// with the guest's status.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "base/units.h"
#include "control/api_server.h"
#include "control/commands.h"
#include "control/options.h"
#include "vm/virtual_machine.h"

namespace ferry {
namespace {

constexpr const char* kRunHelp = R"(usage: ferry run --kernel PATH [options]

  --kernel PATH        PVH ELF (ferry's guest kit, a Linux vmlinux) or a Linux bzImage
  --cmdline STR        kernel command line (the guest kit: a workload, e.g. "dirtier --size 64M")
  --memory SIZE        guest RAM, e.g. 512M or 2G (default 512M)
  --cpus N             vCPUs (default 1)
  --console SPEC       stdio (default), file:PATH or none
  --api PATH           serve the control socket at PATH (ferry status/pause/resume/stop)

Exit status: the guest's own status (0-239, via port 0xf4); 240 the VM could not
start; 241 the guest reset (triple fault); 242 unhandled VM exit; 243 KVM error;
128+N when ended by signal N. See docs/run.md.
)";

const std::vector<OptionSpec> kRunOptions = {
    {"kernel", true},  {"cmdline", true}, {"memory", true}, {"cpus", true},
    {"console", true}, {"api", true},     {"help", false},
};

int Fail(const Error& error) {
  std::fprintf(stderr, "ferry run: %s\n", error.message().c_str());
  return kExitSetupFailed;
}

Result<VmConfig> ConfigFromOptions(const ParsedOptions& options) {
  if (!options.positional().empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "unexpected argument '" + options.positional()[0] + "' (see ferry run --help)");
  }
  VmConfig config;
  config.kernel = options.Get("kernel");
  if (config.kernel.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--kernel PATH is required (see ferry run --help)");
  }
  config.cmdline = options.Get("cmdline");
  config.console = options.Get("console", "stdio");
  if (options.Has("memory")) {
    ASSIGN_OR_RETURN(config.memory_bytes, ParseSize(options.Get("memory"), kMiB));
  }
  if (options.Has("cpus")) {
    Result<uint64_t> cpus = ParseUnsigned(options.Get("cpus"));
    if (!cpus.ok() || *cpus > 1024) {
      return Error(ErrorCode::kInvalidArgument,
                   "--cpus '" + options.Get("cpus") + "' is not a CPU count");
    }
    config.cpus = static_cast<uint32_t>(*cpus);
  }
  return config;
}

// Answers the control protocol for the VM this process runs.
class RunApiHandler final : public ApiHandler {
 public:
  explicit RunApiHandler(VirtualMachine* vm) : vm_(vm) {}

  Json Handle(const Json& request) override {
    const Json* cmd = request.Get("cmd");
    if (cmd == nullptr || !cmd->is_string()) return ErrorReply("missing \"cmd\"");
    const std::string& name = cmd->as_string();
    if (name == "status") return StatusReply();
    Status done = OkStatus();
    if (name == "pause") {
      done = vm_->Pause();
    } else if (name == "resume") {
      done = vm_->Resume();
    } else if (name == "stop") {
      vm_->RequestStop({StopReason::Kind::kRequested, 0, "stopped through the control socket"});
    } else {
      return ErrorReply("unknown command \"" + name + "\"");
    }
    if (!done.ok()) return ErrorReply(done.error().message());
    Json reply = StatusReply();
    return reply;
  }

 private:
  Json StatusReply() const {
    VmInfo info = vm_->Info();
    Json reply = Json::MakeObject();
    reply.Set("ok", true);
    reply.Set("state", VmStateName(info.state));
    reply.Set("vcpus", static_cast<int64_t>(info.cpus));
    reply.Set("memory_bytes", info.memory_bytes);
    reply.Set("uptime_ms", info.uptime_ms);
    reply.Set("pid", info.pid);
    return reply;
  }
  VirtualMachine* vm_;
};

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

void BlockTerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace

int RunCommand(std::span<char* const> args) {
  Result<ParsedOptions> options = ParseOptions("ferry run", args, kRunOptions);
  if (!options.ok()) return Fail(options.error());
  if (options->Has("help")) {
    std::fputs(kRunHelp, stdout);
    return 0;
  }
  Result<VmConfig> config = ConfigFromOptions(*options);
  if (!config.ok()) return Fail(config.error());

  // Every thread created from here on inherits the blocked mask.
  BlockTerminationSignals();
  Result<std::unique_ptr<VirtualMachine>> vm = VirtualMachine::Create(*config);
  if (!vm.ok()) return Fail(vm.error());
  RunApiHandler handler(vm->get());
  std::unique_ptr<ApiServer> api;
  if (options->Has("api")) {
    Result<std::unique_ptr<ApiServer>> server = ApiServer::Start(options->Get("api"), &handler);
    if (!server.ok()) return Fail(server.error());
    api = std::move(*server);
  }
  SignalWatcher signals(vm->get());
  Status started = (*vm)->Start();
  if (!started.ok()) return Fail(started.error());
  StopReason reason = (*vm)->Wait();
  api.reset();
  switch (reason.kind) {
    case StopReason::Kind::kGuestExit:
    case StopReason::Kind::kRequested:
      break;
    default:
      std::fprintf(stderr, "ferry run: %s\n", reason.message.c_str());
  }
  return reason.ExitCode();
}

}  // namespace ferry
