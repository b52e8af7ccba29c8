// VMware .vmx files: "key = "value"" lines, keys case-insensitive, values
// with |XX hex escapes. Disks are the <controller><bus>:<unit>.fileName
// entries of hard disks; NICs the ethernetN entries.
#include <algorithm>
#include <cctype>
#include <map>
#include <regex>

#include "image/file.h"
#include "image/text_util.h"
#include "image/vm_source.h"

namespace ferry::image {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = char(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// Decodes VMware's |XX escapes (|22 is a double quote).
std::string Unescape(const std::string& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '|' && i + 2 < v.size() && Hex(v[i + 1]) >= 0 && Hex(v[i + 2]) >= 0) {
      out += char(Hex(v[i + 1]) * 16 + Hex(v[i + 2]));
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseLines(const std::string& text) {
  std::map<std::string, std::string> kv;
  size_t line_no = 0;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    std::string line = Trim(text.substr(at, nl == std::string::npos ? nl : nl - at));
    at = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) {
      return Error(ErrorCode::kCorrupt, "line " + std::to_string(line_no) + " is not key = value");
    }
    std::string key = Lower(Trim(line.substr(0, eq)));
    std::string value = Trim(line.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    if (key.empty())
      return Error(ErrorCode::kCorrupt, "line " + std::to_string(line_no) + " has no key");
    kv[key] = Unescape(value);
  }
  return kv;
}

bool IsTrue(const std::map<std::string, std::string>& kv, const std::string& key, bool dflt) {
  auto it = kv.find(key);
  if (it == kv.end()) return dflt;
  std::string v = Lower(it->second);
  return v == "true" || v == "yes" || v == "1";
}

std::string Get(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  return it == kv.end() ? "" : it->second;
}

Result<uint64_t> Number(const std::string& text, const std::string& key) {
  if (text.empty() || text.size() > 12 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Error(ErrorCode::kCorrupt, key + " = \"" + text + "\" is not a number");
  }
  return std::stoull(text);
}

void AddDisks(const std::map<std::string, std::string>& kv, const std::string& dir, SourceVm& vm) {
  static const std::regex slot("^(ide|sata|scsi|nvme)([0-9]+):([0-9]+)\\.filename$");
  std::vector<std::pair<std::string, std::string>> found;  // (slot, file)
  for (const auto& [key, value] : kv) {
    std::smatch m;
    if (!std::regex_match(key, m, slot)) continue;
    std::string s = m[1].str() + m[2].str() + ":" + m[3].str();
    if (!IsTrue(kv, s + ".present", false)) continue;
    std::string type = Lower(Get(kv, s + ".devicetype"));
    bool cdrom = type.find("cdrom") != std::string::npos;
    if (cdrom || Lower(value).size() < 5 ||
        Lower(value).substr(Lower(value).size() - 5) != ".vmdk") {
      vm.not_carried.push_back(std::string(cdrom ? "CD/DVD" : "device") + " " + s + " (" +
                               (value.empty() ? type : value) + ")");
      continue;
    }
    if (!IsTrue(kv, m[1].str() + m[2].str() + ".present", true)) continue;
    found.emplace_back(s, value);
  }
  for (const auto& [s, file] : found) {
    SourceDisk d;
    d.path = ResolveRelative(dir + "/x", file);
    d.format = Format::kVmdk;
    d.bus = s.substr(0, s.find_first_of("0123456789"));
    d.target = s;
    vm.disks.push_back(d);
  }
  for (std::string ctl : {"scsi0", "scsi1", "scsi2", "scsi3"}) {
    std::string dev = Get(kv, ctl + ".virtualdev");
    if (!dev.empty() && IsTrue(kv, ctl + ".present", false)) {
      vm.notes.push_back("SCSI controller " + ctl + " (" + dev + ") becomes virtio-blk");
    }
  }
}

void AddNics(const std::map<std::string, std::string>& kv, SourceVm& vm) {
  for (int n = 0; n < 10; ++n) {
    std::string e = "ethernet" + std::to_string(n);
    if (!IsTrue(kv, e + ".present", false)) continue;
    SourceNic nic;
    nic.model = Get(kv, e + ".virtualdev");
    if (nic.model.empty()) nic.model = "vlance";
    nic.network = Get(kv, e + ".networkname");
    std::string type = Lower(Get(kv, e + ".addresstype"));
    std::string mac = Get(kv, type == "static" ? e + ".address" : e + ".generatedaddress");
    if (mac.empty()) mac = Get(kv, e + ".address");
    if (auto m = NormalizeMac(mac)) {
      nic.mac = *m;
    } else {
      vm.not_carried.push_back("MAC address of " + e + " ('" + mac +
                               "' is missing or not valid): a new one is needed");
    }
    vm.nics.push_back(nic);
  }
}

void AddLeftovers(const std::map<std::string, std::string>& kv, SourceVm& vm) {
  static const char* kDevices[] = {"floppy", "serial",       "parallel",    "usb",
                                   "sound",  "sharedfolder", "pcipassthru", "vmci"};
  for (const auto& [key, value] : kv) {
    const size_t dot = key.find('.');
    if (dot == std::string::npos || key.substr(dot) != ".present" || !IsTrue(kv, key, false)) {
      continue;
    }
    const std::string dev = key.substr(0, dot);
    for (const char* d : kDevices) {
      if (dev.rfind(d, 0) == 0) vm.not_carried.push_back("device " + dev);
    }
  }
  if (!Get(kv, "checkpoint.vmstate").empty()) {
    vm.not_carried.push_back("suspended state (checkpoint.vmState): the guest boots cold");
  }
}

}  // namespace

Result<SourceVm> ParseVmx(const std::string& text, const std::string& dir) {
  Result<std::map<std::string, std::string>> parsed = ParseLines(text);
  if (!parsed.ok()) return std::move(parsed).error().WithContext("vmx");
  const auto& kv = *parsed;
  if (kv.count("config.version") == 0 && kv.count("virtualhw.version") == 0) {
    return Error(ErrorCode::kCorrupt,
                 "vmx: no config.version or virtualHW.version: not a VMX file");
  }
  SourceVm vm;
  vm.kind = "vmx";
  vm.name = Get(kv, "displayname");
  vm.guest_os = Get(kv, "guestos");
  vm.firmware = Lower(Get(kv, "firmware")) == "efi" ? "efi" : "bios";
  ASSIGN_OR_RETURN(uint64_t mib,
                   Number(Get(kv, "memsize").empty() ? "0" : Get(kv, "memsize"), "memsize"));
  vm.memory_bytes = mib << 20;
  if (!Get(kv, "numvcpus").empty()) {
    ASSIGN_OR_RETURN(uint64_t cpus, Number(Get(kv, "numvcpus"), "numvcpus"));
    if (cpus < 1 || cpus > 255) return Error(ErrorCode::kCorrupt, "vmx: numvcpus out of range");
    vm.vcpus = uint32_t(cpus);
  }
  AddDisks(kv, dir, vm);
  AddNics(kv, vm);
  AddLeftovers(kv, vm);
  return vm;
}

std::optional<std::string> NormalizeMac(const std::string& text) {
  if (text.size() != 17) return std::nullopt;
  std::string out;
  for (size_t i = 0; i < 17; ++i) {
    char c = char(std::tolower(static_cast<unsigned char>(text[i])));
    if (i % 3 == 2) {
      if (c != ':' && c != '-') return std::nullopt;
      out += ':';
    } else {
      if (Hex(c) < 0) return std::nullopt;
      out += c;
    }
  }
  return out;
}

}  // namespace ferry::image
