// `ferry status|pause|resume|stop --api PATH`: clients of the control socket.
#include <cstdio>
#include <filesystem>

#include "base/json.h"
#include "control/commands.h"
#include "control/options.h"
#include "control/unix_socket.h"

namespace ferry {
namespace {

constexpr int kReplyTimeoutMs = 15'000;

const std::vector<OptionSpec> kClientOptions = {{"api", true}, {"json", false}, {"help", false}};
const std::vector<OptionSpec> kSnapshotOptions = {
    {"api", true}, {"out", true}, {"resume", false}, {"json", false}, {"help", false}};
// Saving a large guest to a slow disk takes a while.
constexpr int kSnapshotTimeoutMs = 600'000;

// Sends {"cmd": verb, ...fields} and returns the reply if it says ok.
Result<Json> Request(const std::string& verb, const ParsedOptions& options,
                     Json request = Json::MakeObject(), int timeout_ms = kReplyTimeoutMs) {
  std::string api = options.Get("api");
  if (api.empty()) {
    return Error(ErrorCode::kInvalidArgument, "--api PATH (the VM's control socket) is required");
  }
  request.Set("cmd", verb);
  ASSIGN_OR_RETURN(std::string line, Roundtrip(api, request.Dump(), timeout_ms));
  ASSIGN_OR_RETURN(Json reply, Json::Parse(line));
  const Json* ok = reply.Get("ok");
  if (ok == nullptr || !ok->is_bool()) {
    return Error(ErrorCode::kCorrupt, "the VM sent a reply without \"ok\": " + line);
  }
  if (!ok->as_bool()) {
    const Json* error = reply.Get("error");
    return Error(ErrorCode::kFailedPrecondition,
                 error && error->is_string() ? error->as_string() : line);
  }
  return reply;
}

Result<ParsedOptions> ParseClient(const std::string& verb, std::span<char* const> args) {
  return ParseOptions("ferry " + verb, args, kClientOptions);
}

int Fail(const std::string& verb, const Error& error) {
  std::fprintf(stderr, "ferry %s: %s\n", verb.c_str(), error.message().c_str());
  return 1;
}

}  // namespace

int StatusCommand(std::span<char* const> args) {
  Result<ParsedOptions> options = ParseClient("status", args);
  if (!options.ok()) return Fail("status", options.error());
  if (options->Has("help")) {
    std::puts("usage: ferry status --api PATH [--json]");
    return 0;
  }
  Result<Json> reply = Request("status", *options);
  if (!reply.ok()) return Fail("status", reply.error());
  if (options->Has("json")) {
    std::puts(reply->Dump().c_str());
    return 0;
  }
  for (const auto& [key, value] : reply->as_object()) {
    if (key == "ok") continue;
    std::printf("%-13s %s\n", (key + ":").c_str(),
                value.is_string() ? value.as_string().c_str() : value.Dump().c_str());
  }
  return 0;
}

int SimpleControlCommand(const char* verb, std::span<char* const> args) {
  Result<ParsedOptions> options = ParseClient(verb, args);
  if (!options.ok()) return Fail(verb, options.error());
  if (options->Has("help")) {
    std::printf("usage: ferry %s --api PATH\n", verb);
    return 0;
  }
  Result<Json> reply = Request(verb, *options);
  if (!reply.ok()) return Fail(verb, reply.error());
  const Json* state = reply->Get("state");
  std::printf("%s\n", state && state->is_string() ? state->as_string().c_str() : "ok");
  return 0;
}

int SnapshotCommand(std::span<char* const> args) {
  Result<ParsedOptions> options = ParseOptions("ferry snapshot", args, kSnapshotOptions);
  if (!options.ok()) return Fail("snapshot", options.error());
  if (options->Has("help")) {
    std::puts(
        "usage: ferry snapshot --api PATH --out DIR [--resume] [--json]\n\n"
        "Pauses the VM, saves its state and memory to DIR, then stops it\n"
        "(or lets it go on with --resume). Restore with: ferry restore DIR");
    return 0;
  }
  std::string out = options->Get("out");
  if (out.empty())
    return Fail("snapshot", Error(ErrorCode::kInvalidArgument, "--out DIR is required"));
  // The VMM may run in another directory: give it an absolute path.
  std::error_code ec;
  std::string dir = std::filesystem::absolute(out, ec).lexically_normal().string();
  Json request = Json::MakeObject();
  request.Set("dir", dir);
  request.Set("resume", options->Has("resume"));
  Result<Json> reply = Request("snapshot", *options, std::move(request), kSnapshotTimeoutMs);
  if (!reply.ok()) return Fail("snapshot", reply.error());
  if (options->Has("json")) {
    std::puts(reply->Dump().c_str());
    return 0;
  }
  uint64_t data = static_cast<uint64_t>(reply->Get("pages_data")->as_int());
  std::printf("snapshot saved to %s in %.1f ms (%.1f MiB of data, %lld zero pages); the VM %s\n",
              dir.c_str(), reply->Get("total_ms")->as_double(), data * 4096.0 / (1 << 20),
              static_cast<long long>(reply->Get("pages_zero")->as_int()),
              options->Has("resume") ? "goes on" : "stopped");
  return 0;
}

}  // namespace ferry
