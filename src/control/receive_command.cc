// `ferry receive --listen tcp:ADDR:PORT`: wait for one incoming VM and run it.
#include <cstdio>

#include "base/clock.h"
#include "base/units.h"
#include "control/commands.h"
#include "control/disk_option.h"
#include "control/net_option.h"
#include "control/options.h"
#include "control/serve_vm.h"
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
  --disk PATH[,readonly]   the images of the incoming VM's disks, one per disk, in
                           the source's order (shared storage; other devices come
                           as the stream describes them)
  --net tap=NAME           the TAP of each of the incoming VM's NICs, in order;
                           the MAC comes with the VM (mac= must match it if
                           given). The NICs announce the MAC (RARP) once the
                           VM runs here.
Exit status as for ferry run; 240 when nothing was received and nothing ran.
)";

const std::vector<OptionSpec> kReceiveOptions = {
    {"listen", true}, {"console", true},    {"api", true},      {"timeout", true},
    {"help", false},  {"disk", true, true}, {"net", true, true}};

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
  // (Named apart from the DiskReceiver below: the merge of virtio-devices
  // with block migration left both as `disks`.)
  Result<std::vector<DiskSpec>> disk_specs = ParseDiskOptions(options->All("disk"));
  if (!disk_specs.ok()) return Fail(disk_specs.error());
  Result<std::vector<NetSpec>> nets = ParseNetOptions(options->All("net"));
  if (!nets.ok()) return Fail(nets.error());
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
  VmConfig config;
  config.console = options->Get("console", "stdio");
  config.disks = std::move(*disk_specs);
  config.nets = std::move(*nets);
  std::unique_ptr<VirtualMachine> vm;
  // Admitting creates the whole VM while the source still runs, so the
  // switchover only has to load state into it.
  auto admit = [&](const state::MachineConfig& machine) -> Result<GuestMemory*> {
    RETURN_IF_ERROR(CheckHostCanRun(machine));
    ASSIGN_OR_RETURN(GuestMemory memory, GuestMemory::Create(machine.memory_bytes));
    ASSIGN_OR_RETURN(vm, VirtualMachine::Prepare(config, machine, std::move(memory)));
    return &vm->mutable_memory();
  };
  migration::DiskReceiver disks({});
  Result<state::MachineState> incoming = receiver.Receive(admit, disks);
  if (!incoming.ok()) {
    // What arrived of the disks stays, so that `ferry migrate` can resume.
    (void)disks.SaveProgress();
    return Fail(std::move(incoming).error().WithContext("nothing was started"));
  }
  Status loaded = vm->LoadState(*incoming);
  if (!loaded.ok()) {
    receiver.Refuse(loaded.error().message());
    return Fail(std::move(loaded).error().WithContext("loading the received VM"));
  }
  Status go = receiver.ReadyAndAwaitGo();
  if (!go.ok()) {
    (void)disks.SaveProgress();
    return Fail(std::move(go).error().WithContext("nothing was started"));
  }
  return ServeVm(std::move(vm), options->Get("api"), "ferry receive", [&receiver, &disks] {
    Status complete = disks.Complete();
    if (!complete.ok()) {
      std::fprintf(stderr, "ferry receive: %s\n", complete.error().message().c_str());
    }
    Status confirmed = receiver.ConfirmRunning(MonotonicNs());
    if (!confirmed.ok()) {
      std::fprintf(stderr, "ferry receive: the VM runs here; the source did not hear so: %s\n",
                   confirmed.error().message().c_str());
    }
  });
}

}  // namespace ferry
