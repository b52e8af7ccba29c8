// `ferry restore DIR`: run a VM from a snapshot, where it stopped.
#include <cstdio>

#include "base/clock.h"
#include "control/api_server.h"
#include "control/commands.h"
#include "control/disk_option.h"
#include "control/net_option.h"
#include "control/options.h"
#include "control/serve_vm.h"
#include "state/snapshot_dir.h"
#include "vm/compatibility.h"

namespace ferry {
namespace {

constexpr const char* kRestoreHelp =
    R"(usage: ferry restore DIR [--console SPEC] [--api PATH] [--disk SPEC]... [--net SPEC]...
                          [--dirty-tracking log|ring]

Runs the VM saved in DIR (by ferry snapshot) from where it stopped. The
snapshot is not changed, so it can be restored again.
  --console SPEC   stdio (default), file:PATH or none
  --api PATH       serve the control socket at PATH
  --disk PATH[,readonly]
                   the images of the saved VM's disks, one per disk, in the
                   order ferry run had them (the rng comes back by itself)
  --net tap=NAME   the TAP of each of the saved VM's NICs, in order; the MAC
                   comes from the snapshot (mac= must match it if given).
                   The NICs announce the MAC (RARP) once the VM runs.
  --dirty-tracking log (default) or ring[:ENTRIES]: as for ferry run
Exit status as for ferry run.
)";

const std::vector<OptionSpec> kRestoreOptions = {{"console", true},        {"api", true},
                                                 {"dirty-tracking", true}, {"help", false},
                                                 {"disk", true, true},     {"net", true, true}};

int Fail(const Error& error) {
  std::fprintf(stderr, "ferry restore: %s\n", error.message().c_str());
  return kExitSetupFailed;
}

}  // namespace

int RestoreCommand(std::span<char* const> args) {
  int64_t start = MonotonicNs();
  Result<ParsedOptions> options = ParseOptions("ferry restore", args, kRestoreOptions);
  if (!options.ok()) return Fail(options.error());
  if (options->Has("help")) {
    std::fputs(kRestoreHelp, stdout);
    return 0;
  }
  if (options->positional().size() != 1) {
    return Fail(Error(ErrorCode::kInvalidArgument, "give exactly one snapshot DIR"));
  }
  const std::string& dir = options->positional()[0];
  Result<std::vector<DiskSpec>> disks = ParseDiskOptions(options->All("disk"));
  if (!disks.ok()) return Fail(disks.error());
  if (Status whole = RefuseUnfinishedCopies(*disks); !whole.ok()) return Fail(whole.error());
  if (Status opens = CheckDisksOpen(*disks); !opens.ok()) return Fail(opens.error());
  VmConfig config;
  config.console = options->Get("console", "stdio");
  config.disks = std::move(*disks);
  if (options->Has("dirty-tracking")) {
    Result<DirtyTrackingChoice> tracking = ParseDirtyTracking(options->Get("dirty-tracking"));
    if (!tracking.ok()) return Fail(tracking.error());
    config.dirty_tracking = *tracking;
  }
  Result<std::vector<NetSpec>> nets = ParseNetOptions(options->All("net"));
  if (!nets.ok()) return Fail(nets.error());
  config.nets = std::move(*nets);
  if (options->Has("api")) {
    if (Status api = CheckControlSocketPath(options->Get("api")); !api.ok())
      return Fail(api.error());
  }
  BlockTerminationSignals();
  Result<state::LoadedSnapshot> snapshot = state::LoadSnapshot(dir);
  if (!snapshot.ok()) return Fail(snapshot.error());
  Status compatible = CheckHostCanRun(snapshot->machine.config);
  if (!compatible.ok()) return Fail(compatible.error());
  Result<GuestMemory> memory =
      GuestMemory::FromFile(snapshot->memory.get(), snapshot->machine.config.memory_bytes);
  if (!memory.ok()) return Fail(memory.error());
  Result<std::unique_ptr<VirtualMachine>> vm =
      VirtualMachine::Restore(config, snapshot->machine, std::move(*memory));
  if (!vm.ok()) return Fail(vm.error());
  std::fprintf(stderr, "ferry restore: %s ready in %.1f ms\n", dir.c_str(),
               NsToMs(MonotonicNs() - start));
  return ServeVm(std::move(*vm), options->Get("api"), "ferry restore");
}

}  // namespace ferry
