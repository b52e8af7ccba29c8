// `ferry migrate --api SOCK --to tcp:HOST:PORT`: ask a VM's VMM to move it.
#include <cstdio>

#include "base/json.h"
#include "control/commands.h"
#include "control/options.h"
#include "control/unix_socket.h"

namespace ferry {
namespace {

constexpr const char* kMigrateHelp = R"(usage: ferry migrate --api PATH --to tcp:HOST:PORT [options]

Moves the VM served at PATH to a `ferry receive` at HOST:PORT. The VM keeps
running here until the destination confirms it runs there; if anything fails
before that, it goes on here and this command says why.
  --mode offline     pause, move state and memory, resume at the destination
                     (the only mode so far; precopy and postcopy are not implemented)
  --json             print the report as one JSON object (fields: docs/migrate.md)
Exit status: 0 migrated, 1 not migrated (the VM goes on at the source).
)";

const std::vector<OptionSpec> kMigrateOptions = {
    {"api", true}, {"to", true}, {"mode", true}, {"json", false}, {"help", false}};

constexpr int kMigrateTimeoutMs = 3'600'000;

int Fail(const std::string& message) {
  std::fprintf(stderr, "ferry migrate: %s\n", message.c_str());
  return 1;
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
  if (!options->Has("to")) return Fail("--to tcp:HOST:PORT is required");
  Json request = Json::MakeObject();
  request.Set("cmd", "migrate");
  request.Set("to", options->Get("to"));
  request.Set("mode", options->Get("mode", "offline"));
  Result<std::string> line = Roundtrip(options->Get("api"), request.Dump(), kMigrateTimeoutMs);
  if (!line.ok()) return Fail(line.error().message());
  Result<Json> reply = Json::Parse(*line);
  if (!reply.ok()) return Fail("unreadable reply: " + *line);
  const Json* ok = reply->Get("ok");
  if (ok == nullptr || !ok->is_bool() || !ok->as_bool()) {
    const Json* error = reply->Get("error");
    return Fail(error && error->is_string() ? error->as_string() : *line);
  }
  if (options->Has("json")) {
    std::puts(reply->Dump().c_str());
    return 0;
  }
  auto number = [&](const char* key) { return reply->Get(key)->as_double(); };
  std::printf("migrated (%s) to %s\n", reply->Get("mode")->as_string().c_str(),
              reply->Get("destination")->as_string().c_str());
  std::printf("  total      %9.1f ms\n", number("total_ms"));
  std::printf("  setup      %9.1f ms\n", number("setup_ms"));
  std::printf("  downtime   %9.1f ms (%s clocks)\n", number("downtime_ms"),
              reply->Get("downtime_clock")->as_string().c_str());
  std::printf("  sent       %9.1f MiB\n", number("bytes_sent") / (1 << 20));
  std::printf("  pages      %lld normal, %lld zero (not sent)\n",
              static_cast<long long>(reply->Get("pages_normal")->as_int()),
              static_cast<long long>(reply->Get("pages_zero")->as_int()));
  return 0;
}

}  // namespace ferry
