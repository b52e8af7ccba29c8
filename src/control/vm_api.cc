#include "control/vm_api.h"

#include "base/clock.h"
#include "state/snapshot_dir.h"

namespace ferry {
namespace {

const std::string* StringField(const Json& request, const char* key) {
  const Json* value = request.Get(key);
  return value && value->is_string() ? &value->as_string() : nullptr;
}

bool BoolField(const Json& request, const char* key) {
  const Json* value = request.Get(key);
  return value && value->is_bool() && value->as_bool();
}

}  // namespace

Json VmApiHandler::Handle(const Json& request) {
  const std::string* cmd = StringField(request, "cmd");
  if (cmd == nullptr) return ErrorReply("missing \"cmd\"");
  if (*cmd == "status") return StatusReply();
  if (*cmd == "snapshot") return Snapshot(request);
  Status done = OkStatus();
  if (*cmd == "pause") {
    done = vm_->Pause();
  } else if (*cmd == "resume") {
    done = vm_->Resume();
  } else if (*cmd == "stop") {
    vm_->RequestStop({StopReason::Kind::kRequested, 0, "stopped through the control socket"});
  } else {
    return ErrorReply("unknown command \"" + *cmd + "\"");
  }
  if (!done.ok()) return ErrorReply(done.error().message());
  return StatusReply();
}

Json VmApiHandler::StatusReply() const {
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

// Pauses, saves state and memory to a directory, then stops or resumes.
Json VmApiHandler::Snapshot(const Json& request) {
  const std::string* dir = StringField(request, "dir");
  if (dir == nullptr || dir->empty()) return ErrorReply("snapshot needs \"dir\"");
  bool resume = BoolField(request, "resume");
  bool was_running = vm_->Info().state == VmState::kRunning;
  int64_t start = MonotonicNs();
  if (was_running) {
    Status paused = vm_->Pause();
    if (!paused.ok()) return ErrorReply(paused.error().message());
  }
  int64_t paused_at = MonotonicNs();
  Result<state::MachineState> machine = vm_->CaptureState();
  Result<state::MemoryImageStats> saved =
      machine.ok() ? state::SaveSnapshot(*dir, *machine, vm_->guest_cpuid(), vm_->memory())
                   : Result<state::MemoryImageStats>(machine.error());
  int64_t saved_at = MonotonicNs();
  if (!saved.ok()) {
    if (was_running) (void)vm_->Resume();  // nothing is lost: the guest goes on
    return ErrorReply("snapshot failed, the VM goes on: " + saved.error().message());
  }
  if (resume) {
    if (was_running) (void)vm_->Resume();
  } else {
    vm_->RequestStop({StopReason::Kind::kRequested, 0, "snapshot saved to " + *dir});
  }
  int64_t done_at = MonotonicNs();
  Json reply = StatusReply();
  reply.Set("state", resume ? VmStateName(vm_->Info().state) : "stopped");
  reply.Set("dir", *dir);
  reply.Set("pause_ms", NsToMs(paused_at - start));
  reply.Set("save_ms", NsToMs(saved_at - paused_at));
  reply.Set("total_ms", NsToMs(done_at - start));
  reply.Set("downtime_ms", resume && was_running ? Json(NsToMs(done_at - paused_at)) : Json());
  reply.Set("pages_data", saved->pages_data);
  reply.Set("pages_zero", saved->pages_zero);
  return reply;
}

}  // namespace ferry
