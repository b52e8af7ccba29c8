// `ferry export DIR|vm.json --to vmx|ova|libvirt|xl|proxmox --out OUT`: the way back
// out of ferry. Every disk is copied to a raw staging file, the guest
// fix-ups rename its disks for the target's bus (/dev/vdX -> /dev/sdX for
// VMware's SCSI), and the staging file is converted to the target's format;
// the source disks are only read. OUT is built under a temporary name and
// renamed at the end, so that a failure leaves nothing under OUT.
#include "control/export_command.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "base/units.h"
#include "control/vm_description.h"
#include "image/args.h"
#include "image/export_disks.h"
#include "image/export_vm.h"
#include "image/file.h"
#include "image/ova_writer.h"
#include "image/staging_dir.h"
#include "image/temp_output.h"

namespace ferry {
namespace {

using namespace image;

constexpr const char* kUsage =
    "usage: ferry export DIR|vm.json --to vmx|ova|libvirt|xl|proxmox|hyperv --out OUT [-p] "
    "[--force] "
    "[--no-fixup]\n"
    "                    [--vmid N]\n"
    "  DIR|vm.json: a ferry VM (what ferry import writes)\n"
    "  --to vmx      OUT is a directory: NAME.vmx and monolithicSparse NAME-diskN.vmdk\n"
    "  --to ova      OUT is one OVA file: OVF 1.0, SHA256 manifest, streamOptimized VMDKs\n"
    "  --to libvirt  OUT is a directory: NAME.xml (a KVM domain) and NAME-diskN.qcow2\n"
    "  --to xl       OUT is a directory: NAME.cfg (a Xen HVM guest) and NAME-diskN.raw\n"
    "  --to hyperv   OUT is a directory: NAME.ps1 (creates the VM in Hyper-V) and\n"
    "                NAME-diskN.vhdx\n"
    "  --to proxmox  OUT is a directory: VMID.conf and images/VMID/vm-VMID-diskN.qcow2\n"
    "                (--vmid N, default 100), for a directory storage named 'local'\n"
    "  --force replaces an existing OUT; --no-fixup leaves the guest's files as they are\n"
    "  (otherwise /dev/vdX in fstab and the boot loader become /dev/sdX for VMware)\n";

constexpr uint64_t kDefaultMemoryMib = 1024;

enum class Target { kVmx, kOva, kLibvirt, kXl, kProxmox, kHyperV };

struct Lists {
  std::vector<std::string> written;      // one line per file or device
  std::vector<std::string> not_carried;  // one line per thing left behind
  std::vector<std::string> warnings;     // what may stop the guest from booting
  std::vector<std::string> notes;        // changes made on the way
};

Result<Target> ParseTarget(const std::string& text) {
  if (text == "vmx") return Target::kVmx;
  if (text == "ova") return Target::kOva;
  if (text == "libvirt") return Target::kLibvirt;
  if (text == "xl") return Target::kXl;
  if (text == "proxmox") return Target::kProxmox;
  if (text == "hyperv") return Target::kHyperV;
  return Error(ErrorCode::kInvalidArgument,
               "--to '" + text + "' is not one of vmx, ova, libvirt, xl, proxmox, hyperv");
}

// The target's disks: qcow2 on virtio for libvirt; VMDKs on LSI Logic SCSI
// for VMware, so the guest's disks become /dev/sdX.
DiskTarget TargetFor(Target target) {
  DiskTarget disks;
  disks.extension = ".qcow2";
  if (target == Target::kLibvirt || target == Target::kProxmox) return disks;
  if (target == Target::kHyperV) {  // Linux sees Hyper-V's disks through hv_storvsc as sdX
    disks.format = Format::kVhdx;
    disks.extension = ".vhdx";
    disks.naming = DiskNaming::kHyperV;
    return disks;
  }
  if (target == Target::kXl) {  // raw: every Xen disk backend reads it
    disks.format = Format::kRaw;
    disks.extension = ".raw";
    disks.naming = DiskNaming::kXen;
    return disks;
  }
  disks.format = Format::kVmdk;
  disks.extension = ".vmdk";
  disks.create.subformat = target == Target::kOva ? "streamOptimized" : "monolithicSparse";
  disks.create.adapter_type = "lsilogic";
  disks.naming = DiskNaming::kScsi;
  return disks;
}

// The VM's name as a file name: letters, digits, '.', '_' and '-' kept.
std::string FileBase(const std::string& name) {
  std::string out;
  for (char c : name) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    out += keep ? c : '_';
  }
  while (!out.empty() && out[0] == '.') out.erase(0, 1);
  if (out.size() > 64) out.resize(64);
  return out.empty() ? "vm" : out;
}

// vm.json itself, or DIR/vm.json; refused here with its own message rather
// than as ferry run's "--vm".
Result<VmDescription> LoadSource(const std::string& source) {
  std::string file = source;
  struct stat st {};
  if (::stat(source.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) file = source + "/vm.json";
  if (::access(file.c_str(), R_OK) != 0) {
    return Error(ErrorCode::kNotFound,
                 "cannot read " + file + " (give vm.json or the directory ferry import wrote)");
  }
  return LoadVmDescription(file);
}

void AddFixupReport(const FixupReport& fr, Lists& lists) {
  for (const std::string& c : fr.changes) lists.notes.push_back("fix-up: " + c);
  for (const std::string& k : fr.kernels) lists.notes.push_back(k);
  for (const std::string& k : fr.unbootable) lists.warnings.push_back(k);
  for (const std::string& w : fr.warnings) lists.not_carried.push_back("fix-up: " + w);
}

Result<std::vector<ExportDisk>> Disks(const VmDescription& vm, Target target,
                                      const std::string& base, const std::string& out_dir,
                                      const StagingDir& work, bool fixup, bool progress,
                                      Lists& lists) {
  std::vector<DiskSource> sources;
  for (const VmDescriptionDisk& d : vm.disks) sources.push_back({d.path, d.format});
  ASSIGN_OR_RETURN(ExportedDisks out, ExportDisks(sources, TargetFor(target), base, out_dir,
                                                  work.path(), fixup, progress));
  if (out.fixup) {
    AddFixupReport(*out.fixup, lists);
  } else {
    lists.notes.push_back("guest fix-ups skipped (--no-fixup)");
  }
  return out.disks;
}

// The machine as the target records it; what it cannot hold goes to `lists`.
ExportVm Machine(const VmDescription& vm, Target target, Lists& lists) {
  ExportVm out;
  out.name = vm.name.empty() ? "ferry-vm" : vm.name;
  out.memory_mib = (vm.recorded_memory_bytes + (1 << 20) - 1) >> 20;
  if (out.memory_mib == 0) {
    out.memory_mib = kDefaultMemoryMib;
    lists.not_carried.push_back("memory size (not recorded): " + std::to_string(kDefaultMemoryMib) +
                                " MiB set");
  }
  out.vcpus = vm.cpus == 0 ? 1 : vm.cpus;
  out.firmware = vm.firmware;
  // A guestOS VMware itself wrote; anything else becomes a generic Linux.
  if (target != Target::kLibvirt && vm.imported_from == "vmx") out.guest_os = vm.guest_os;
  for (size_t i = 0; i < vm.nic_macs.size(); ++i) {
    ExportNic nic;
    if (vm.nic_macs[i]) {
      nic.mac = FormatMac(*vm.nic_macs[i]);
    } else {
      lists.not_carried.push_back("MAC address of nic" + std::to_string(i) +
                                  " (none recorded): the target platform assigns one");
    }
    out.nics.push_back(nic);
  }
  if (!vm.kernel.empty() || !vm.cmdline.empty()) {
    lists.not_carried.push_back(
        "direct kernel boot (kernel/cmdline in vm.json): the target boots the guest's own "
        "boot loader");
  }
  return out;
}

// Where the disk letters and NICs land on the target, for the report.
void DescribeDevices(const ExportVm& vm, Target target, Lists& lists) {
  for (size_t i = 0; i < vm.disks.size(); ++i) {
    const ExportDisk& d = vm.disks[i];
    std::string bus;
    if (target == Target::kLibvirt || target == Target::kProxmox) {
      bus = "virtio, /dev/vd";
    } else if (target == Target::kXl) {
      bus = "Xen PV (xvd" + DiskLetters(i) + "), /dev/xvd";
    } else if (target == Target::kHyperV) {
      bus = std::string(vm.firmware != "efi" && i == 0 ? "IDE" : "SCSI") + ", /dev/sd";
    } else {
      bus = ScsiSlot(i) + " (LSI Logic), /dev/sd";
    }
    lists.written.push_back(d.file + ": " + FormatSize(d.capacity) + ", " + bus + DiskLetters(i) +
                            " in the guest");
  }
  for (size_t i = 0; i < vm.nics.size(); ++i) {
    const std::string& mac = vm.nics[i].mac;
    std::string line;
    if (target == Target::kLibvirt || target == Target::kProxmox) {
      line = (target == Target::kProxmox ? "net" : "interface ") + std::to_string(i) + " virtio";
    } else if (target == Target::kXl) {
      line = "vif " + std::to_string(i);
    } else if (target == Target::kHyperV) {
      line = "network adapter nic" + std::to_string(i);
    } else {
      line = "ethernet" + std::to_string(i) + " vmxnet3";
    }
    line += mac.empty() ? ", MAC assigned by the target" : ", MAC " + mac;
    if (target == Target::kLibvirt) line += ", network 'default'";
    if (target == Target::kXl) line += ", bridge xenbr0 (change it as needed)";
    if (target == Target::kProxmox) line += ", bridge vmbr0 (change it as needed)";
    if (target == Target::kHyperV) line += ", static MAC, no switch (connect it as needed)";
    if (target == Target::kVmx || target == Target::kOva) {
      line += ", network 'VM Network' (connect it as needed)";
    }
    lists.written.push_back(line);
    if (target == Target::kVmx && !mac.empty() && !InVmwareStaticRange(mac)) {
      lists.notes.push_back("ethernet" + std::to_string(i) + ": MAC " + mac +
                            " is outside VMware's static range 00:50:56:00:00:00-"
                            "00:50:56:3f:ff:ff; ESXi refuses such a static MAC unless "
                            "ethernet" +
                            std::to_string(i) + ".checkMACAddress = \"FALSE\", which is set");
    }
    if (target == Target::kOva && !mac.empty() && !InVmwareStaticRange(mac)) {
      lists.notes.push_back(
          "nic" + std::to_string(i) + ": MAC " + mac +
          " is outside VMware's static range 00:50:56:00:00:00-00:50:56:3f:ff:ff; vSphere may "
          "replace it on import (set ethernet" +
          std::to_string(i) + ".checkMACAddress = \"FALSE\" to keep it)");
    }
  }
}

std::string Report(const ExportVm& vm, const std::string& to, const std::string& out,
                   const Lists& lists) {
  std::string r = "exported '" + vm.name + "' to " + to + ": " + std::to_string(vm.vcpus) +
                  " vCPU, " + std::to_string(vm.memory_mib) + " MiB, " +
                  std::to_string(vm.disks.size()) + " disk(s), " + std::to_string(vm.nics.size()) +
                  " NIC(s) into " + out + "\n";
  for (const std::string& s : lists.written) r += "  " + s + "\n";
  r += "not carried over:" + std::string(lists.not_carried.empty() ? " nothing\n" : "\n");
  for (const std::string& s : lists.not_carried) r += "  - " + s + "\n";
  if (!lists.warnings.empty()) r += "warnings:\n";
  for (const std::string& s : lists.warnings) r += "  - " + s + "\n";
  if (!lists.notes.empty()) r += "notes:\n";
  for (const std::string& s : lists.notes) r += "  - " + s + "\n";
  return r;
}

Status WriteText(const std::string& path, const std::string& text) {
  ASSIGN_OR_RETURN(ImageFile f, ImageFile::Create(path));
  RETURN_IF_ERROR(f.WriteAt(
      0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size())));
  return f.Sync();
}

// The absolute path OUT will have once renamed, for libvirt's disk sources.
std::string AbsoluteFinal(const std::string& out) {
  std::string path = out;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  char real[PATH_MAX];
  if (::realpath(dir.c_str(), real) == nullptr) return path;
  return std::string(real) + (std::string(real) == "/" ? "" : "/") + name;
}

struct Request {
  std::string source;
  std::string out;
  std::string to;
  Target target = Target::kVmx;
  bool force = false;
  bool fixup = true;
  bool progress = false;
  uint64_t vmid = 100;
};

Result<Request> ParseRequest(int argc, char** argv) {
  ArgSpec spec{{"--out", "--to", "--vmid"}, {"-p", "--force", "--no-fixup"}, {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  if (args.operands().size() != 1 || !args.Get("--out") || !args.Get("--to")) {
    return Error(ErrorCode::kInvalidArgument,
                 "expected DIR|vm.json, --to and --out OUT\n" + std::string(kUsage));
  }
  Request r;
  r.source = args.operands()[0];
  r.out = *args.Get("--out");
  while (r.out.size() > 1 && r.out.back() == '/') r.out.pop_back();
  r.to = *args.Get("--to");
  ASSIGN_OR_RETURN(r.target, ParseTarget(r.to));
  r.force = args.Has("--force");
  r.fixup = !args.Has("--no-fixup");
  r.progress = args.Has("-p");
  if (auto vmid = args.Get("--vmid")) {
    Result<uint64_t> n = ParseUnsigned(*vmid);
    if (!n.ok() || *n < 100 || *n > 999999999) {
      return Error(ErrorCode::kInvalidArgument,
                   "--vmid '" + *vmid + "' is not a Proxmox VM id (100 to 999999999)");
    }
    r.vmid = *n;
  }
  return r;
}

// Proxmox VE: VMID.conf and images/VMID/vm-VMID-diskN.qcow2, laid out as a
// directory storage holds them, to be copied onto the cluster as they are.
Status ExportToProxmox(const Request& req, const VmDescription& desc, ExportVm& vm,
                       const StagingDir& work, Lists& lists) {
  ASSIGN_OR_RETURN(StagingDir staging, StagingDir::Prepare(req.out, req.force, req.force));
  const std::string id = std::to_string(req.vmid);
  const std::string images = staging.File("images");
  for (const std::string& dir : {images, images + "/" + id}) {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir " + dir);
  }
  ASSIGN_OR_RETURN(vm.disks, Disks(desc, req.target, "vm-" + id, images + "/" + id, work, req.fixup,
                                   req.progress, lists));
  RETURN_IF_ERROR(WriteText(staging.File(id + ".conf"), ProxmoxText(vm, req.vmid, "local")));
  for (ExportDisk& d : vm.disks) d.file = "images/" + id + "/" + d.file;
  lists.written.insert(lists.written.begin(), id + ".conf");
  lists.notes.push_back("copy " + id + ".conf to /etc/pve/qemu-server/ and images/" + id +
                        "/ into the images directory of a directory storage named 'local' "
                        "(/var/lib/vz/images/ by default), or edit the volume names");
  return staging.Commit();
}

// VMX and libvirt: a directory of the descriptor and the disks.
Status ExportToDirectory(const Request& req, const VmDescription& desc, ExportVm& vm,
                         const StagingDir& work, Lists& lists) {
  ASSIGN_OR_RETURN(StagingDir staging, StagingDir::Prepare(req.out, req.force, req.force));
  const std::string base = FileBase(vm.name);
  ASSIGN_OR_RETURN(vm.disks, Disks(desc, req.target, base, staging.path(), work, req.fixup,
                                   req.progress, lists));
  const std::string final_dir = AbsoluteFinal(req.out);
  for (ExportDisk& d : vm.disks) d.path = final_dir + "/" + d.file;
  std::string descriptor, text;
  if (req.target == Target::kVmx) {
    descriptor = base + ".vmx";
    text = VmxText(vm);
  } else if (req.target == Target::kXl) {
    descriptor = base + ".cfg";
    text = XlText(vm);
  } else if (req.target == Target::kHyperV) {
    descriptor = base + ".ps1";
    text = HyperVScript(vm);
  } else {
    descriptor = base + ".xml";
    text = LibvirtText(vm);
  }
  RETURN_IF_ERROR(WriteText(staging.File(descriptor), text));
  lists.written.insert(lists.written.begin(), descriptor);
  return staging.Commit();
}

Status ExportToOva(const Request& req, const VmDescription& desc, ExportVm& vm,
                   const StagingDir& work, Lists& lists) {
  ASSIGN_OR_RETURN(TempOutput out, TempOutput::Prepare(req.out, req.force));
  const std::string base = FileBase(vm.name);
  ASSIGN_OR_RETURN(
      vm.disks, Disks(desc, req.target, base, work.path(), work, req.fixup, req.progress, lists));
  std::vector<OvaFile> files;
  for (const ExportDisk& d : vm.disks) files.push_back({d.file, work.File(d.file)});
  RETURN_IF_ERROR(WriteOva(out.temp_path(), base + ".ovf", OvfText(vm), files));
  lists.written.insert(lists.written.begin(), {base + ".ovf", base + ".mf (SHA256)"});
  return out.Commit();
}

Result<int> Export(int argc, char** argv) {
  ASSIGN_OR_RETURN(Request req, ParseRequest(argc, argv));
  ASSIGN_OR_RETURN(VmDescription desc, LoadSource(req.source));
  Lists lists;
  ExportVm vm = Machine(desc, req.target, lists);
  // Raw staging copies for the fix-ups (and the OVA's disks before they
  // are packed) live beside OUT and go away with this object.
  ASSIGN_OR_RETURN(StagingDir work, StagingDir::Prepare(req.out + ".work", req.force));
  if (req.target == Target::kOva) {
    RETURN_IF_ERROR(ExportToOva(req, desc, vm, work, lists));
  } else if (req.target == Target::kProxmox) {
    RETURN_IF_ERROR(ExportToProxmox(req, desc, vm, work, lists));
  } else {
    RETURN_IF_ERROR(ExportToDirectory(req, desc, vm, work, lists));
  }
  DescribeDevices(vm, req.target, lists);
  std::fputs(Report(vm, req.to, req.out, lists).c_str(), stdout);
  return 0;
}

}  // namespace

int RunExportCommand(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  Result<int> r = Export(argc, argv);
  if (r.ok()) return *r;
  std::fprintf(stderr, "ferry export: %s\n", r.error().message().c_str());
  return 1;
}

}  // namespace ferry
