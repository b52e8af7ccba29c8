// `ferry migrate --api SOCK --to tcp:HOST:PORT`: ask a VM's VMM to move it,
// show progress, and print the report. Ctrl-C cancels (the VM goes on here).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>

#include "base/json.h"
#include "base/units.h"
#include "control/commands.h"
#include "control/options.h"
#include "control/unix_socket.h"
#include "migration/report.h"

namespace ferry {
namespace {

constexpr const char* kMigrateHelp = R"(usage: ferry migrate --api PATH --to tcp:HOST:PORT [options]
       ferry migrate --api PATH --cancel

Moves the VM served at PATH to a `ferry receive` at HOST:PORT. The VM keeps
running here until the destination confirms it runs there; if anything fails
before that, it goes on here and this command says why.
  --mode precopy|offline  live pre-copy (default) or pause-and-copy
  --downtime-ms MS        pre-copy: the downtime to aim for (default 300)
  --bandwidth RATE        cap, in bytes per second: 500M = 500 MiB/s (default: none)
  --max-rounds N          pre-copy: at most N copy rounds (default 30)
  --on-stall WHAT         when pre-copy does not converge: stop-and-copy (default),
                          abort (the VM goes on here) or throttle (slow the vCPUs)
  --copy-storage          block migration: copy the disks too, for hosts without
                          shared storage (the receiver names each target: --disk)
  --progress              a progress bar with rate and ETA (when stdout is a terminal)
  --json                  print the report as one JSON object (fields: docs/migrate.md)
  --cancel                cancel the migration in progress for PATH
Exit status: 0 migrated, 1 not migrated (the VM goes on at the source).
)";

const std::vector<OptionSpec> kMigrateOptions = {
    {"api", true},       {"to", true},         {"mode", true},     {"downtime-ms", true},
    {"bandwidth", true}, {"max-rounds", true}, {"on-stall", true}, {"progress", false},
    {"json", false},     {"cancel", false},    {"help", false},    {"copy-storage", false}};

int Fail(const std::string& message) {
  std::fprintf(stderr, "ferry migrate: %s\n", message.c_str());
  return 1;
}

Result<Json> BuildRequest(const ParsedOptions& options) {
  Json request = Json::MakeObject();
  request.Set("cmd", "migrate");
  request.Set("to", options.Get("to"));
  request.Set("mode", options.Get("mode", "precopy"));
  if (options.Has("downtime-ms")) {
    ASSIGN_OR_RETURN(uint64_t ms, ParseUnsigned(options.Get("downtime-ms")));
    request.Set("downtime_ms", ms);
  }
  if (options.Has("bandwidth")) {
    ASSIGN_OR_RETURN(uint64_t rate, ParseSize(options.Get("bandwidth")));
    request.Set("bandwidth", rate);
  }
  if (options.Has("max-rounds")) {
    ASSIGN_OR_RETURN(uint64_t rounds, ParseUnsigned(options.Get("max-rounds")));
    request.Set("max_rounds", rounds);
  }
  if (options.Has("on-stall")) request.Set("on_stall", options.Get("on-stall"));
  if (options.Has("copy-storage")) request.Set("copy_storage", true);
  return request;
}

// One progress line, redrawn in place. With --copy-storage it also says how
// much of the disks is left (the bulk copy's rest and the writes since).
void DrawProgress(const Json& event, bool copy_storage) {
  auto number = [&](const char* key) {
    const Json* v = event.Get(key);
    return v && v->is_number() ? v->as_double() : 0.0;
  };
  double rate = number("mib_per_s");
  double left_mib = number("pages_left") * 4096 / (1 << 20);
  double disk_mib = copy_storage ? number("disk_bytes_left") / (1 << 20) : 0;
  double eta = rate > 0 ? (left_mib + disk_mib) / rate : 0;
  char disk[48] = "";
  if (copy_storage) std::snprintf(disk, sizeof disk, "  disks left %8.1f MiB", disk_mib);
  std::printf(
      "\r\033[Kround %.0f  sent %8.1f MiB  %8.1f MiB/s  left in round %7.1f MiB%s  ETA %5.1f s"
      "  throttle %.0f%%",
      number("round"), number("bytes_sent") / (1 << 20), rate, left_mib, disk, eta,
      number("throttle_pct"));
  std::fflush(stdout);
}

// Asks the VMM to cancel; the migrate request then fails and the VM goes on.
Status SendCancel(const std::string& api) {
  ASSIGN_OR_RETURN(std::string line, Roundtrip(api, R"({"cmd":"cancel"})", 10'000));
  ASSIGN_OR_RETURN(Json reply, Json::Parse(line));
  const Json* ok = reply.Get("ok");
  if (ok && ok->is_bool() && ok->as_bool()) return OkStatus();
  const Json* error = reply.Get("error");
  return Error(ErrorCode::kFailedPrecondition,
               error && error->is_string() ? error->as_string() : line);
}

// Sends the request and reads event lines until the reply; SIGINT cancels.
Result<Json> RunMigration(const std::string& api, const Json& request, bool draw_progress,
                          bool copy_storage) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Fd signals(::signalfd(-1, &set, SFD_CLOEXEC));
  ASSIGN_OR_RETURN(Fd fd, ConnectUnix(api));
  RETURN_IF_ERROR(WriteLine(fd.get(), request.Dump()));
  LineReader reader(fd.get(), 1 << 20);
  bool drew = false;
  for (;;) {
    pollfd fds[2] = {{fd.get(), POLLIN, 0}, {signals.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info;
      (void)!::read(signals.get(), &info, sizeof info);
      Status cancelled = SendCancel(api);
      std::fprintf(stderr, "%sferry migrate: cancelling%s\n", drew ? "\n" : "",
                   cancelled.ok() ? "" : (": " + cancelled.error().message()).c_str());
      drew = false;
    }
    if (!(fds[0].revents & (POLLIN | POLLHUP))) continue;
    ASSIGN_OR_RETURN(std::optional<std::string> line, reader.ReadAvailable());
    while (line) {
      ASSIGN_OR_RETURN(Json message, Json::Parse(*line));
      if (message.Get("event") == nullptr) {
        if (drew) std::printf("\n");
        return message;
      }
      if (draw_progress) {
        DrawProgress(message, copy_storage);
        drew = true;
      }
      ASSIGN_OR_RETURN(line, reader.ReadAvailable());
    }
    if (reader.eof()) return Error(ErrorCode::kUnavailable, "the VMM closed the connection");
  }
}

}  // namespace

int MigrateCommand(std::span<char* const> args) {
  Result<ParsedOptions> options = ParseOptions("ferry migrate", args, kMigrateOptions);
  if (!options.ok()) return Fail(options.error().message());
  if (options->Has("help")) {
    std::fputs(kMigrateHelp, stdout);
    return 0;
  }
  if (!options->Has("api")) return Fail("--api PATH (the VM's control socket) is required");
  if (options->Has("cancel")) {
    Status cancelled = SendCancel(options->Get("api"));
    if (!cancelled.ok()) return Fail(cancelled.error().message());
    std::puts("cancelling: the VM goes on at the source");
    return 0;
  }
  if (!options->Has("to")) return Fail("--to tcp:HOST:PORT is required");
  Result<Json> request = BuildRequest(*options);
  if (!request.ok()) return Fail(request.error().message());
  bool draw = options->Has("progress") && ::isatty(STDOUT_FILENO) && !options->Has("json");
  Result<Json> reply =
      RunMigration(options->Get("api"), *request, draw, options->Has("copy-storage"));
  if (!reply.ok()) return Fail(reply.error().message());
  const Json* ok = reply->Get("ok");
  if (ok == nullptr || !ok->is_bool() || !ok->as_bool()) {
    const Json* error = reply->Get("error");
    return Fail(error && error->is_string() ? error->as_string() : reply->Dump());
  }
  if (options->Has("json")) {
    std::puts(reply->Dump().c_str());
  } else {
    std::fputs(migration::MigrationReport::FromJson(*reply).ToText().c_str(), stdout);
  }
  return 0;
}

}  // namespace ferry
