// `ferry receive --listen tcp:ADDR:PORT`: wait for one incoming VM and run it.
#include <cstdio>
#include <optional>

#include "base/clock.h"
#include "base/units.h"
#include "control/api_server.h"
#include "control/commands.h"
#include "control/disk_option.h"
#include "control/net_option.h"
#include "control/options.h"
#include "control/serve_vm.h"
#include "devices/virtio/virtio_spec.h"
#include "kvm/kvm.h"
#include "migration/offline_receiver.h"
#include "migration/tcp.h"
#include "vm/compatibility.h"

namespace ferry {
namespace {

constexpr const char* kReceiveHelp = R"(usage: ferry receive --listen tcp:ADDR:PORT [options]

Waits for one VM sent by `ferry migrate`, checks that this host can run it,
receives it and runs it (then behaves like ferry run).
  --listen tcp:ADDR:PORT   where to listen (e.g. tcp:0.0.0.0:7000)
  --console SPEC           stdio (default), file:PATH or none
  --api PATH               serve the control socket at PATH
  --timeout SECONDS        give up when no VM arrives in time (default: wait forever)
  --dirty-tracking M       log (default) or ring[:ENTRIES], for migrating it on: as for ferry run
  --disk PATH[,readonly]   where each of the incoming VM's disks is, one per disk, in
                           the source's order: the copy's target with --copy-storage
                           (a new file, or an unfinished copy to resume); with shared
                           storage the image (default: the source's path)
  --net tap=NAME           the TAP of each of the incoming VM's NICs, in order;
                           the MAC comes with the VM (mac= must match it if
                           given). The NICs announce the MAC (RARP) once the
                           VM runs here.
Exit status as for ferry run; 240 when nothing was received and nothing ran.
)";

const std::vector<OptionSpec> kReceiveOptions = {
    {"listen", true},         {"console", true}, {"api", true},        {"timeout", true},
    {"dirty-tracking", true}, {"help", false},   {"disk", true, true}, {"net", true, true}};

bool HasDisks(const state::MachineConfig& machine) {
  for (const state::DeviceDescriptor& d : machine.devices) {
    if (d.type == virtio::kDeviceBlock) return true;
  }
  return false;
}

int Fail(const Error& error) {
  std::fprintf(stderr, "ferry receive: %s\n", error.message().c_str());
  return kExitSetupFailed;
}

}  // namespace

int ReceiveCommand(std::span<char* const> args) {
  Result<ParsedOptions> options = ParseOptions("ferry receive", args, kReceiveOptions);
  if (!options.ok()) return Fail(options.error());
  if (options->Has("help")) {
    std::fputs(kReceiveHelp, stdout);
    return 0;
  }
  if (!options->Has("listen")) {
    return Fail(Error(ErrorCode::kInvalidArgument, "--listen tcp:ADDR:PORT is required"));
  }
  int timeout_ms = -1;
  if (options->Has("timeout")) {
    Result<uint64_t> seconds = ParseUnsigned(options->Get("timeout"));
    if (!seconds.ok()) return Fail(seconds.error());
    timeout_ms = static_cast<int>(*seconds * 1000);
  }
  VmConfig config;
  config.console = options->Get("console", "stdio");
  if (options->Has("dirty-tracking")) {
    Result<DirtyTrackingChoice> tracking = ParseDirtyTracking(options->Get("dirty-tracking"));
    if (!tracking.ok()) return Fail(tracking.error());
    config.dirty_tracking = *tracking;
  }
  Result<std::vector<DiskSpec>> disk_specs = ParseDiskOptions(options->All("disk"));
  if (!disk_specs.ok()) return Fail(disk_specs.error());
  config.disks = std::move(*disk_specs);
  config.defer_disk_locks = true;  // the source holds them until `go`
  Result<std::vector<NetSpec>> nets = ParseNetOptions(options->All("net"));
  if (!nets.ok()) return Fail(nets.error());
  config.nets = std::move(*nets);
  if (options->Has("api")) {
    if (Status api = CheckControlSocketPath(options->Get("api")); !api.ok())
      return Fail(api.error());
  }
  // A host that cannot run the VM must say so before the source starts sending.
  if (Result<Kvm> kvm = Kvm::Open(); !kvm.ok()) return Fail(kvm.error());
  BlockTerminationSignals();
  Result<migration::TcpAddress> address = migration::ParseTcpAddress(options->Get("listen"));
  if (!address.ok()) return Fail(address.error());
  Result<Fd> listener = migration::ListenTcp(*address);
  if (!listener.ok()) return Fail(listener.error());
  std::fprintf(stderr, "ferry receive: listening on %s\n", options->Get("listen").c_str());
  Result<Fd> connection = migration::AcceptTcp(listener->get(), timeout_ms);
  if (!connection.ok()) return Fail(connection.error());
  listener->Reset();

  migration::OfflineReceiver receiver(connection->get());
  std::unique_ptr<VirtualMachine> vm;
  state::MachineConfig admitted;
  std::optional<GuestMemory> waiting_memory;
  auto create_vm = [&](const std::vector<DiskSpec>& images) -> Result<GuestMemory*> {
    VmConfig with_disks = config;
    with_disks.disks = images;
    ASSIGN_OR_RETURN(vm, VirtualMachine::Prepare(with_disks, admitted, std::move(*waiting_memory)));
    waiting_memory.reset();
    // The vCPU threads start now, parked: at the handover they only wake up.
    RETURN_IF_ERROR(vm->StartPaused());
    return &vm->mutable_memory();
  };
  // Admitting creates the whole VM while the source still runs, so the
  // switchover only has to load state into it. A VM with disks waits for the
  // disk plan: the images (copies, for block migration) must exist first.
  auto admit = [&](const state::MachineConfig& machine) -> Result<GuestMemory*> {
    RETURN_IF_ERROR(CheckHostCanRun(machine));
    ASSIGN_OR_RETURN(GuestMemory memory, GuestMemory::Create(machine.memory_bytes));
    admitted = machine;
    waiting_memory.emplace(std::move(memory));
    if (!HasDisks(machine)) return create_vm(config.disks);
    return &*waiting_memory;
  };
  auto planned = [&](const migration::DiskReceiver& received) -> Result<GuestMemory*> {
    std::vector<std::string> paths = received.image_paths();
    std::vector<DiskSpec> images;
    for (size_t i = 0; i < paths.size(); ++i) {
      DiskSpec spec = i < config.disks.size() ? config.disks[i] : DiskSpec{};
      spec.path = paths[i];
      spec.read_only = received.plan()[i].readonly;
      images.push_back(spec);
    }
    return create_vm(images);
  };
  std::vector<std::string> targets;
  for (const DiskSpec& d : config.disks) targets.push_back(d.path);
  migration::DiskReceiver disks(targets);
  Result<state::MachineState> incoming = receiver.Receive(admit, disks, planned);
  if (!incoming.ok()) {
    // What arrived of the disks stays, so that `ferry migrate` can resume.
    (void)disks.SaveProgress();
    return Fail(std::move(incoming).error().WithContext("nothing was started"));
  }
  if (!vm) {
    return Fail(Error(ErrorCode::kCorrupt,
                      "the source described disks but sent no disk plan; nothing was started"));
  }
  Status loaded = vm->LoadState(*incoming);
  if (!loaded.ok()) {
    receiver.Refuse(loaded.error().message());
    return Fail(std::move(loaded).error().WithContext("loading the received VM"));
  }
  auto confirm = [&receiver, &disks] {
    // The copies are whole images now: the partial-copy records go.
    Status complete = disks.Complete();
    if (!complete.ok()) {
      std::fprintf(stderr, "ferry receive: %s\n", complete.error().message().c_str());
    }
    Status confirmed = receiver.ConfirmRunning(MonotonicNs());
    if (!confirmed.ok()) {
      std::fprintf(stderr, "ferry receive: the VM runs here; the source did not hear so: %s\n",
                   confirmed.error().message().c_str());
    }
  };
  // After `go` the (parked) vCPUs only have to be woken.
  Handover handover{[&receiver] { return receiver.SendReady(); },
                    [&receiver, &disks, machine = vm.get()]() -> Status {
                      Status go = receiver.AwaitGo();
                      if (!go.ok()) {
                        (void)disks.SaveProgress();
                        return std::move(go).error().WithContext("nothing was started");
                      }
                      // The source released its images before `go`; normally immediate.
                      Status claimed = machine->ClaimDisks(5000);
                      if (!claimed.ok()) {
                        return std::move(claimed).error().WithContext(
                            "the source handed the VM over but its disks cannot be locked "
                            "here; nothing was started");
                      }
                      return OkStatus();
                    }};
  return ServeVm(std::move(vm), options->Get("api"), "ferry receive", confirm, &handover);
}

}  // namespace ferry
