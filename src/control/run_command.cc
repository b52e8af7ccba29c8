// `ferry run`: boot a VM in the foreground, serve its control socket, and exit
// with the guest's status.
#include <cstdio>

#include "base/units.h"
#include "control/api_server.h"
#include "control/commands.h"
#include "control/disk_option.h"
#include "control/net_option.h"
#include "control/options.h"
#include "control/serve_vm.h"
#include "control/vm_description.h"
#include "vm/virtual_machine.h"

namespace ferry {
namespace {

constexpr const char* kRunHelp = R"(usage: ferry run --kernel PATH [options]
       ferry run --vm DIR|vm.json [--kernel PATH] --net tap=NAME... [options]

  --vm DIR|FILE        the VM ferry import wrote (vm.json): memory, vCPUs, disks
                       and NIC MAC addresses from it; give one --net tap=NAME per
                       NIC, in order, and --kernel unless vm.json names one.
                       --memory/--cpus/--cmdline override it; --disk adds disks
  --kernel PATH        PVH ELF (ferry's guest kit, a Linux vmlinux) or a Linux bzImage
  --cmdline STR        kernel command line (the guest kit: a workload, e.g. "dirtier --size 64M")
  --memory SIZE        guest RAM, e.g. 512M or 2G (default 512M)
  --cpus N             vCPUs (default 1)
  --console SPEC       stdio (default), file:PATH or none
  --api PATH           serve the control socket at PATH (ferry status/pause/resume/stop)
  --disk PATH[,readonly][,serial=ID][,format=raw]
                       a raw disk image as a virtio-blk device; repeat for more
                       (PCI slots 1.. in this order). The image is locked: one
                       writer, or any number of read-only users. A file that
                       starts like a qcow2/VMDK/VHD/VHDX image is refused
                       unless format=raw says it is a raw disk.
  --net tap=NAME[,mac=MAC]
                       a virtio-net device on TAP interface NAME (created if
                       missing); repeat for more (after the disks). Without
                       mac= a 52:54:00:xx:xx:xx address is generated, and it
                       stays with the VM through snapshots and migrations.
  --rng                a virtio-rng device fed from getrandom(2)
  --dirty-tracking M   how live migration finds written pages: log (KVM's dirty
                       bitmap, default) or ring (KVM's dirty ring; ring:ENTRIES per vCPU)

Exit status: the guest's own status (0-239, via port 0xf4); 240 the VM could not
start; 241 the guest reset (triple fault); 242 unhandled VM exit; 243 KVM error;
128+N when ended by signal N. See docs/run.md.
)";

const std::vector<OptionSpec> kRunOptions = {
    {"kernel", true},         {"cmdline", true},    {"memory", true},
    {"cpus", true},           {"console", true},    {"api", true},
    {"help", false},          {"disk", true, true}, {"rng", false},
    {"dirty-tracking", true}, {"net", true, true},  {"vm", true},
};

int Fail(const Error& error) {
  std::fprintf(stderr, "ferry run: %s\n", error.message().c_str());
  return kExitSetupFailed;
}

Status ApplyMemoryAndCpus(const ParsedOptions& options, VmConfig& config) {
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
  return OkStatus();
}

std::string MacList(const VmDescription& vm) {
  std::string list;
  for (const std::optional<MacAddress>& mac : vm.nic_macs) {
    list += (list.empty() ? "" : ", ") + (mac ? FormatMac(*mac) : std::string("no MAC"));
  }
  return list;
}

// vm.json's disks come first (PCI slots 1..), then any --disk.
Result<std::vector<DiskSpec>> DescribedDisks(const VmDescription& vm) {
  std::vector<DiskSpec> disks;
  for (const VmDescriptionDisk& d : vm.disks) {
    if (d.format != "raw") {
      return Error(ErrorCode::kFailedPrecondition,
                   "--vm: disk " + d.path + " is " + d.format +
                       "; ferry run takes raw disks: ferry image convert -O raw " + d.path +
                       " OUT.raw and name OUT.raw (format raw) in vm.json, or import with -O raw");
    }
    disks.push_back(DiskSpec{d.path, false, ""});
  }
  return disks;
}

// The i-th --net gives the TAP of vm.json's i-th NIC, whose MAC stays.
Result<std::vector<NetSpec>> DescribedNets(const VmDescription& vm, std::vector<NetSpec> given) {
  if (given.size() < vm.nic_macs.size()) {
    return Error(ErrorCode::kInvalidArgument,
                 "--vm: the VM has " + std::to_string(vm.nic_macs.size()) + " NIC(s) (" +
                     MacList(vm) + "); give one --net tap=NAME for each, in that order");
  }
  for (size_t i = 0; i < vm.nic_macs.size(); ++i) {
    const std::optional<MacAddress>& kept = vm.nic_macs[i];
    if (kept && given[i].mac && *given[i].mac != *kept) {
      return Error(ErrorCode::kInvalidArgument,
                   "--net tap=" + given[i].tap + ": mac=" + FormatMac(*given[i].mac) +
                       " differs from the VM's NIC " + std::to_string(i) + " (" + FormatMac(*kept) +
                       "); leave mac= out to keep the VM's address");
    }
    if (kept) given[i].mac = kept;
  }
  return given;
}

Status ApplyDescription(const VmDescription& vm, const ParsedOptions& options, VmConfig& config) {
  if (config.kernel.empty()) config.kernel = vm.kernel;
  if (config.kernel.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "--vm: the VM names no kernel and ferry boots no firmware or boot loader: "
                 "give --kernel PATH (the guest's own kernel, or add \"kernel\" to vm.json)");
  }
  if (!options.Has("cmdline")) config.cmdline = vm.cmdline;
  if (vm.memory_bytes != 0) config.memory_bytes = vm.memory_bytes;
  if (vm.cpus != 0) config.cpus = vm.cpus;
  ASSIGN_OR_RETURN(std::vector<DiskSpec> disks, DescribedDisks(vm));
  disks.insert(disks.end(), config.disks.begin(), config.disks.end());
  config.disks = std::move(disks);
  ASSIGN_OR_RETURN(config.nets, DescribedNets(vm, std::move(config.nets)));
  return OkStatus();
}

Result<VmConfig> ConfigFromOptions(const ParsedOptions& options) {
  if (!options.positional().empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "unexpected argument '" + options.positional()[0] + "' (see ferry run --help)");
  }
  VmConfig config;
  config.kernel = options.Get("kernel");
  if (config.kernel.empty() && !options.Has("vm")) {
    return Error(ErrorCode::kInvalidArgument,
                 "--kernel PATH is required (or --vm DIR; see ferry run --help)");
  }
  config.cmdline = options.Get("cmdline");
  config.console = options.Get("console", "stdio");
  ASSIGN_OR_RETURN(config.disks, ParseDiskOptions(options.All("disk")));
  ASSIGN_OR_RETURN(config.nets, ParseNetOptions(options.All("net")));
  config.rng = options.Has("rng");
  if (options.Has("dirty-tracking")) {
    ASSIGN_OR_RETURN(config.dirty_tracking, ParseDirtyTracking(options.Get("dirty-tracking")));
  }
  if (options.Has("vm")) {
    ASSIGN_OR_RETURN(VmDescription vm, LoadVmDescription(options.Get("vm")));
    RETURN_IF_ERROR(ApplyDescription(vm, options, config));
  }
  RETURN_IF_ERROR(ApplyMemoryAndCpus(options, config));
  RETURN_IF_ERROR(RefuseUnfinishedCopies(config.disks));
  RETURN_IF_ERROR(RefuseImageFormats(config.disks));
  RETURN_IF_ERROR(CheckDisksOpen(config.disks));
  return config;
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
  if (options->Has("api")) {
    if (Status api = CheckControlSocketPath(options->Get("api")); !api.ok())
      return Fail(api.error());
  }

  // Every thread created from here on inherits the blocked mask.
  BlockTerminationSignals();
  Result<std::unique_ptr<VirtualMachine>> vm = VirtualMachine::Create(*config);
  if (!vm.ok()) return Fail(vm.error());
  return ServeVm(std::move(*vm), options->Get("api"), "ferry run");
}

}  // namespace ferry
