#include "control/cli.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "control/commands.h"
#include "control/export_command.h"
#include "image/image_command.h"
#include "image/import_command.h"
#include "image/p2v_command.h"

namespace ferry {
namespace {

constexpr const char* kUsage = R"(usage: ferry <command> [options]

commands:
  run       boot a VM in the foreground            (ferry run --help)
  status    show a running VM's state              (ferry status --api PATH)
  pause     stop a VM's vCPUs                      (ferry pause --api PATH)
  resume    let a paused VM run again              (ferry resume --api PATH)
  stop      end a VM                               (ferry stop --api PATH)
  snapshot  save a VM to a directory               (ferry snapshot --api PATH --out DIR)
  restore   run a VM from a snapshot               (ferry restore DIR)
  receive   wait for a migrating VM and run it     (ferry receive --listen tcp:ADDR:PORT)
  migrate   move a running VM to a receiver        (ferry migrate --api PATH --to tcp:HOST:PORT)
  image     inspect and convert disk images        (ferry image --help)
  import    a VMware/OVA/libvirt VM into ferry     (ferry import --help)
  export    a ferry VM out to VMware/OVA/libvirt   (ferry export --help)
  p2v       image a physical disk                  (ferry p2v --help)
  v2p       write an image onto a physical disk    (ferry v2p --help)

Documentation: docs/ in the source tree.
)";

}  // namespace

int RunCli(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string command = argv[1];
  std::span<char* const> rest(argv + 2, static_cast<size_t>(argc - 2));
  if (command == "run") return RunCommand(rest);
  if (command == "image") return RunImageCommand(argc - 1, argv + 1);
  if (command == "import") return RunImportCommand(argc - 1, argv + 1);
  if (command == "export") return RunExportCommand(argc - 1, argv + 1);
  if (command == "p2v") return RunP2vCommand(argc - 1, argv + 1);
  if (command == "v2p") return RunV2pCommand(argc - 1, argv + 1);
  if (command == "status") return StatusCommand(rest);
  if (command == "snapshot") return SnapshotCommand(rest);
  if (command == "restore") return RestoreCommand(rest);
  if (command == "receive") return ReceiveCommand(rest);
  if (command == "migrate") return MigrateCommand(rest);
  if (command == "pause" || command == "resume" || command == "stop") {
    return SimpleControlCommand(argv[1], rest);
  }
  std::fprintf(stderr, "ferry: unknown command '%s' (see ferry --help)\n", command.c_str());
  return 2;
}

}  // namespace ferry
