// Proxmox VE VM configurations (/etc/pve/qemu-server/VMID.conf, qm.conf(5)):
// `key: value` lines up to the first [snapshot] section. Disks are
// ideN/sataN/scsiN/virtioN entries naming a volume `STORAGE:VOLNAME` (or
// an absolute path) followed by options; the volume's file is found through
// storage.cfg (pvesm: `TYPE: NAME` stanzas with indented properties) or a
// `--storage NAME=DIR` the user gives for disks copied elsewhere.
#include <algorithm>
#include <filesystem>
#include <map>

#include "image/file.h"
#include "image/text_util.h"
#include "image/vm_source.h"

namespace ferry::image {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "proxmox config: " + what);
}

// "model=virtio,macaddr=..,bridge=vmbr0" style options after the first item.
std::map<std::string, std::string> Options(const std::vector<std::string>& items, size_t from) {
  std::map<std::string, std::string> out;
  for (size_t i = from; i < items.size(); ++i) {
    size_t eq = items[i].find('=');
    if (eq != std::string::npos) out[items[i].substr(0, eq)] = items[i].substr(eq + 1);
  }
  return out;
}

// "scsi3" -> ("scsi", 3); nullopt for keys that are not disk slots.
std::optional<std::pair<std::string, int>> DiskSlot(const std::string& key) {
  for (const char* bus : {"virtio", "scsi", "sata", "ide"}) {
    std::string b = bus;
    if (key.size() > b.size() && key.compare(0, b.size(), b) == 0 &&
        std::all_of(key.begin() + long(b.size()), key.end(), IsDigit) &&
        key.size() - b.size() <= 2) {
      return std::make_pair(b, std::stoi(key.substr(b.size())));
    }
  }
  return std::nullopt;
}

int BusRank(const std::string& bus) {
  return bus == "virtio" ? 0 : bus == "scsi" ? 1 : bus == "sata" ? 2 : 3;
}

std::optional<Format> FormatByName(const std::string& path) {
  for (auto [suffix, format] :
       {std::pair{".qcow2", Format::kQcow2}, std::pair{".raw", Format::kRaw},
        std::pair{".vmdk", Format::kVmdk}}) {
    std::string s = suffix;
    if (path.size() > s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0) {
      return format;
    }
  }
  return std::nullopt;
}

bool Exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

// Where volume `STORAGE:VOLNAME` lives on this host.
Result<std::string> ResolveVolume(const std::string& slot, const std::string& volume,
                                  const ProxmoxStorages& storages,
                                  const std::map<std::string, std::string>& dirs) {
  if (!volume.empty() && volume[0] == '/') return volume;
  size_t colon = volume.find(':');
  if (colon == std::string::npos) return Bad(slot + ": volume '" + volume + "' names no storage");
  const std::string storage = volume.substr(0, colon), name = volume.substr(colon + 1);
  if (name.find("..") != std::string::npos) return Bad(slot + ": volume name '" + name + "'");
  std::vector<std::string> tried;
  if (auto d = dirs.find(storage); d != dirs.end()) {
    const std::string base = name.substr(name.rfind('/') + 1);
    tried = {d->second + "/images/" + name, d->second + "/" + name, d->second + "/" + base};
  } else if (auto s = storages.find(storage); s != storages.end()) {
    const ProxmoxStorage& st = s->second;
    if (st.type == "dir" || st.type == "nfs" || st.type == "cifs" || st.type == "cephfs") {
      tried = {st.path + "/images/" + name};
    } else if (st.type == "lvm" || st.type == "lvmthin") {
      tried = {"/dev/" + st.vgname + "/" + name};
    } else if (st.type == "zfspool") {
      tried = {"/dev/zvol/" + st.pool + "/" + name};
    } else {
      return Error(ErrorCode::kUnimplemented,
                   "proxmox config: " + slot + " is on storage '" + storage + "' of type " +
                       st.type +
                       ", which is not a local file or device: copy the disk into a "
                       "directory and give --storage " +
                       storage + "=DIR");
    }
  } else {
    return Error(ErrorCode::kNotFound, "proxmox config: " + slot + " is on storage '" + storage +
                                           "', which storage.cfg does not name: give --storage " +
                                           storage + "=DIR (where its disk files are)");
  }
  for (const std::string& path : tried) {
    if (Exists(path)) return path;
  }
  return Error(ErrorCode::kNotFound, "proxmox config: " + slot + " (" + volume + ") not found at " +
                                         tried.front() + "; give --storage " + storage +
                                         "=DIR if the disk was copied elsewhere");
}

struct Disk {
  std::string bus;
  int index = 0;
  SourceDisk source;
};

Status AddSlot(const std::string& key, const std::string& value, const ProxmoxStorages& storages,
               const std::map<std::string, std::string>& dirs, std::vector<Disk>& disks,
               SourceVm& vm) {
  auto slot = DiskSlot(key);
  std::vector<std::string> items = SplitTrimmed(value, ',');
  std::map<std::string, std::string> options = Options(items, 1);
  const std::string volume = items[0];
  if (options["media"] == "cdrom") {
    if (volume != "none") vm.not_carried.push_back("CD/DVD " + key + " (" + volume + ")");
    return OkStatus();
  }
  if (volume == "none") return OkStatus();
  ASSIGN_OR_RETURN(std::string path, ResolveVolume(key, volume, storages, dirs));
  Disk d{slot->first, slot->second, {}};
  d.source.path = path;
  d.source.format = FormatByName(path);
  if (path.rfind("/dev/", 0) == 0) d.source.format = Format::kRaw;
  if (auto f = options.find("format"); f != options.end()) {
    Result<Format> parsed = ParseFormat(f->second);
    if (!parsed.ok()) return Bad(key + ": " + parsed.error().message());
    d.source.format = *parsed;
  }
  d.source.bus = slot->first;
  d.source.target = key;
  d.source.origin = volume + " (" + path + ")";
  disks.push_back(std::move(d));
  return OkStatus();
}

// "virtio=BC:24:11:2A:3B:4C,bridge=vmbr0,firewall=1" or "model=e1000,macaddr=..".
void AddNic(const std::string& key, const std::string& value, SourceVm& vm) {
  std::vector<std::string> items = SplitTrimmed(value, ',');
  std::map<std::string, std::string> options = Options(items, 0);
  SourceNic nic;
  std::string mac;
  if (options.count("model")) {
    nic.model = options["model"];
    mac = options["macaddr"];
  } else if (size_t eq = items[0].find('='); eq != std::string::npos) {
    nic.model = items[0].substr(0, eq);
    mac = items[0].substr(eq + 1);
  }
  nic.network = options["bridge"];
  if (auto m = NormalizeMac(mac)) {
    nic.mac = *m;
  } else {
    vm.not_carried.push_back("MAC address of " + key + " (" +
                             (mac.empty() ? "none given" : "'" + mac + "' is not valid") +
                             "): a new one is needed");
  }
  vm.nics.push_back(nic);
}

Result<uint64_t> Count(const std::map<std::string, std::string>& s, const char* key,
                       uint64_t fallback, uint64_t max) {
  auto it = s.find(key);
  if (it == s.end()) return fallback;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), IsDigit)) {
    return Bad(std::string(key) + " '" + v + "' is not a number");
  }
  uint64_t n = std::stoull(v);
  if (n == 0 || n > max) return Bad(std::string(key) + " " + v + " is out of range");
  return n;
}

}  // namespace

Result<ProxmoxStorages> ParseProxmoxStorageCfg(const std::string& text) {
  ProxmoxStorages out;
  ProxmoxStorage* current = nullptr;
  for (const std::string& raw : SplitTrimmed(text, '\n')) {
    if (raw.empty() || raw[0] == '#') continue;
    size_t colon = raw.find(':');
    const bool stanza = colon != std::string::npos &&
                        raw.find_first_of(" \t") > colon;  // "dir: local", not "\tpath /x"
    if (stanza) {
      std::string type = Trim(raw.substr(0, colon)), name = Trim(raw.substr(colon + 1));
      if (name.empty()) return Bad("storage.cfg: a '" + type + ":' stanza without a name");
      current = &out[name];
      current->type = type;
      continue;
    }
    if (!current) return Bad("storage.cfg: property '" + raw + "' outside a storage stanza");
    size_t space = raw.find_first_of(" \t");
    std::string key = raw.substr(0, space);
    std::string value = space == std::string::npos ? "" : Trim(raw.substr(space));
    if (key == "path") current->path = value;
    if (key == "vgname") current->vgname = value;
    if (key == "pool") current->pool = value;
  }
  return out;
}

bool LooksLikeProxmoxConfig(const std::string& head) {
  static const char* kKeys[] = {"memory", "cores", "sockets", "ostype",  "scsihw",
                                "boot",   "name",  "smbios1", "vmgenid", "bootdisk"};
  int hits = 0;
  for (const std::string& line : SplitTrimmed(head, '\n')) {
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    bool known = DiskSlot(key).has_value() || (key.rfind("net", 0) == 0 && key.size() > 3);
    for (const char* k : kKeys) known |= key == k;
    hits += known;
  }
  return hits >= 2;
}

Result<SourceVm> ParseProxmoxConfig(const std::string& text, const ProxmoxStorages& storages,
                                    const std::map<std::string, std::string>& storage_dirs) {
  std::map<std::string, std::string> settings;
  std::vector<std::pair<std::string, std::string>> ordered;
  size_t line_no = 0;
  for (const std::string& line : SplitTrimmed(text, '\n')) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') break;  // snapshots and pending changes follow
    size_t colon = line.find(':');
    if (colon == std::string::npos) {
      return Bad("line " + std::to_string(line_no) + ": expected 'key: value'");
    }
    std::string key = Trim(line.substr(0, colon)), value = Trim(line.substr(colon + 1));
    settings[key] = value;
    ordered.emplace_back(key, value);
  }
  SourceVm vm;
  vm.kind = "proxmox";
  vm.name = settings["name"];
  ASSIGN_OR_RETURN(uint64_t memory, Count(settings, "memory", 512, 1 << 24));
  vm.memory_bytes = memory << 20;
  ASSIGN_OR_RETURN(uint64_t cores, Count(settings, "cores", 1, 255));
  ASSIGN_OR_RETURN(uint64_t sockets, Count(settings, "sockets", 1, 16));
  ASSIGN_OR_RETURN(uint64_t vcpus, Count(settings, "vcpus", cores * sockets, 255));
  if (vcpus > 255) return Bad("cores x sockets is more than 255");
  vm.vcpus = uint32_t(vcpus);
  vm.firmware = settings["bios"] == "ovmf" ? "efi" : "bios";
  vm.guest_os = settings["ostype"];
  std::vector<Disk> disks;
  for (const auto& [key, value] : ordered) {
    if (DiskSlot(key)) {
      RETURN_IF_ERROR(AddSlot(key, value, storages, storage_dirs, disks, vm));
    } else if (key.rfind("net", 0) == 0 && key.size() > 3 && IsDigit(key[3])) {
      AddNic(key, value, vm);
    } else if (key == "efidisk0") {
      vm.not_carried.push_back("EFI variables disk (efidisk0): the guest's boot entries");
    } else if (key == "tpmstate0") {
      vm.not_carried.push_back("TPM state (tpmstate0)");
    } else if (key.rfind("unused", 0) == 0) {
      vm.notes.push_back(key + " (" + value + ") is not attached to the VM: not imported");
    } else if (key.rfind("hostpci", 0) == 0 || key.rfind("usb", 0) == 0 ||
               key.rfind("serial", 0) == 0 || key == "audio0" || key.rfind("virtiofs", 0) == 0) {
      vm.not_carried.push_back(key + " (" + value + ")");
    }
  }
  // The guest names disks per bus in slot order (vda.., sda..): keep that.
  std::stable_sort(disks.begin(), disks.end(), [](const Disk& a, const Disk& b) {
    return std::make_pair(BusRank(a.bus), a.index) < std::make_pair(BusRank(b.bus), b.index);
  });
  for (Disk& d : disks) vm.disks.push_back(std::move(d.source));
  if (vm.name.empty()) vm.name = "proxmox-vm";
  return vm;
}

}  // namespace ferry::image
