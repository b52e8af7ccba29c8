#include "control/vm_api.h"

#include "base/clock.h"
#include "migration/offline_sender.h"
#include "migration/precopy_sender.h"
#include "migration/tcp.h"
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

Json VmApiHandler::Handle(const Json& request, const EventSink& emit) {
  const std::string* cmd = StringField(request, "cmd");
  if (cmd == nullptr) return ErrorReply("missing \"cmd\"");
  if (*cmd == "status") return StatusReply();
  if (*cmd == "cancel") return Cancel();
  if (*cmd == "snapshot" || *cmd == "migrate") {
    std::unique_lock lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) return ErrorReply("a migration or snapshot is already in progress");
    return *cmd == "snapshot" ? Snapshot(request) : Migrate(request, emit);
  }
  if (migrating_.load() && (*cmd == "pause" || *cmd == "resume")) {
    return ErrorReply("a migration is in progress: cancel it first (ferry migrate --cancel)");
  }
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
  reply.Set("dirty_tracking", info.dirty_tracking);
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
  Result<state::MemoryImageStats> saved = machine.ok()
                                              ? state::SaveSnapshot(*dir, *machine, vm_->memory())
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

namespace {

double NumberField(const Json& request, const char* key, double fallback) {
  const Json* value = request.Get(key);
  return value && value->is_number() ? value->as_double() : fallback;
}

Result<migration::PrecopyOptions> PrecopyOptionsFrom(const Json& request) {
  migration::PrecopyOptions options;
  options.policy.downtime_ms = NumberField(request, "downtime_ms", 300);
  options.policy.max_rounds = static_cast<int>(NumberField(request, "max_rounds", 30));
  options.bandwidth = static_cast<uint64_t>(NumberField(request, "bandwidth", 0));
  const Json* copy = request.Get("copy_storage");
  options.copy_storage = copy && copy->is_bool() && copy->as_bool();
  if (options.policy.downtime_ms <= 0 || options.policy.max_rounds < 1) {
    return Error(ErrorCode::kInvalidArgument, "downtime_ms and max_rounds must be positive");
  }
  if (const std::string* on_stall = StringField(request, "on_stall")) {
    if (!migration::ParseOnStall(*on_stall, &options.policy.on_stall)) {
      return Error(ErrorCode::kInvalidArgument,
                   "on_stall '" + *on_stall + "' is not stop-and-copy, abort or throttle");
    }
  }
  return options;
}

Json ProgressEvent(const migration::Progress& p) {
  Json event = Json::MakeObject();
  event.Set("event", "progress");
  event.Set("round", p.round);
  event.Set("bytes_sent", p.bytes_sent);
  event.Set("pages_left", p.pages_left);
  event.Set("disk_bytes_left", p.disk_bytes_left);
  event.Set("mib_per_s", p.mib_per_s);
  event.Set("throttle_pct", p.throttle_pct);
  return event;
}

}  // namespace

Json VmApiHandler::Cancel() {
  if (!migrating_.load()) return ErrorReply("no migration is in progress");
  cancel_ = true;
  Json reply = StatusReply();
  reply.Set("cancelling", true);
  return reply;
}

// Moves the VM to another ferry (`ferry receive`). The source owns the VM
// until the destination confirms it runs; before that, any failure resumes it here.
Json VmApiHandler::Migrate(const Json& request, const EventSink& emit) {
  int64_t started = MonotonicNs();
  const std::string* to = StringField(request, "to");
  const std::string* mode = StringField(request, "mode");
  if (to == nullptr) return ErrorReply("migrate needs \"to\" (tcp:HOST:PORT)");
  std::string chosen = mode ? *mode : "precopy";
  if (chosen == "postcopy" || chosen == "hybrid") {
    return ErrorReply("migration mode '" + chosen +
                      "' is not implemented yet; precopy and offline are available");
  }
  if (chosen != "offline" && chosen != "precopy") {
    return ErrorReply("unknown migration mode '" + chosen + "' (precopy, offline)");
  }
  Result<migration::PrecopyOptions> options = PrecopyOptionsFrom(request);
  if (!options.ok()) return ErrorReply(options.error().message());
  if (vm_->Info().state != VmState::kRunning) {
    return ErrorReply(std::string("the VM is ") + VmStateName(vm_->Info().state) +
                      "; only a running VM can be migrated");
  }
  Result<migration::TcpAddress> address = migration::ParseTcpAddress(*to);
  if (!address.ok()) return ErrorReply(address.error().message());
  Result<Fd> connection = migration::ConnectTcp(*address, 5000);
  if (!connection.ok()) {
    return ErrorReply("migration failed, the VM goes on here: " + connection.error().message());
  }
  cancel_ = false;
  migrating_ = true;
  options->cancel = &cancel_;
  options->on_progress = [&emit](const migration::Progress& p) { emit(ProgressEvent(p)); };
  bool committed = false;
  Result<migration::MigrationReport> report =
      chosen == "offline"
          ? migration::SendOffline(*vm_, connection->get(), *to, started, options->bandwidth,
                                   options->copy_storage, &committed)
          : migration::SendPrecopy(*vm_, connection->get(), *to, started, *options, &committed);
  migrating_ = false;
  if (!report.ok()) {
    if (committed) {
      return ErrorReply(
          "handover uncertain: the destination was told to run the VM but did not "
          "confirm (" +
          report.error().message() +
          "); the VM stays paused here: "
          "resume it only if the destination does not run it");
    }
    return ErrorReply("migration failed, the VM goes on here: " + report.error().message());
  }
  vm_->RequestStop({StopReason::Kind::kRequested, 0, "migrated to " + *to});
  Json reply = report->ToJson();
  reply.Set("ok", true);
  return reply;
}

}  // namespace ferry
