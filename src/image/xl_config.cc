// Xen xl domain configuration files (xl.cfg(5)): `KEY = VALUE` settings,
// values being "strings" or 'strings', numbers or [lists], `#` comments.
// Disks follow xl-disk-configuration: positional `TARGET,VDEV,ACCESS` (the
// target may carry a prefix such as phy:, file:, tap:aio:, tap:qcow2:),
// `TARGET,FORMAT,VDEV,ACCESS`, or key=value settings (target=, format=,
// vdev=, access=, devtype=cdrom). NICs are vif strings of key=value
// settings (mac=, bridge=, model=, type=).
#include <algorithm>
#include <cctype>
#include <map>

#include "image/file.h"
#include "image/text_util.h"
#include "image/vm_source.h"

namespace ferry::image {
namespace {

constexpr size_t kMaxListItems = 256;

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "xl config: " + what);
}

struct Value {
  bool list = false;
  std::string scalar;  // a string's contents or a number's digits
  std::vector<std::string> items;
};

class Lexer {
 public:
  explicit Lexer(const std::string& text) : text_(text) {}

  Result<std::map<std::string, Value>> Settings() {
    std::map<std::string, Value> out;
    for (;;) {
      Skip();
      if (pos_ >= text_.size()) return out;
      std::string key = Word();
      if (key.empty()) return Bad(At() + "expected a setting name");
      Skip();
      bool append = false;
      if (text_.compare(pos_, 2, "+=") == 0) {
        append = true;
        ++pos_;
      }
      if (pos_ >= text_.size() || text_[pos_] != '=')
        return Bad(At() + "expected '=' after " + key);
      ++pos_;
      Skip();
      ASSIGN_OR_RETURN(Value v, ParseValue());
      Value& slot = out[key];
      if (append && slot.list && v.list) {
        slot.items.insert(slot.items.end(), v.items.begin(), v.items.end());
      } else {
        slot = std::move(v);
      }
      Skip(/*newlines=*/false);
      if (pos_ < text_.size() && text_[pos_] == ';') ++pos_;
    }
  }

 private:
  std::string At() const {
    return "line " +
           std::to_string(1 + std::count(text_.begin(), text_.begin() + long(pos_), '\n')) + ": ";
  }

  void Skip(bool newlines = true) {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++pos_;
      } else {
        return;
      }
    }
  }

  std::string Word() {
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
            text_[pos_] == '.' || text_[pos_] == '-')) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }

  Result<std::string> Scalar() {
    if (pos_ < text_.size() && (text_[pos_] == '"' || text_[pos_] == '\'')) {
      const char quote = text_[pos_++];
      std::string s;
      while (pos_ < text_.size() && text_[pos_] != quote) {
        if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
        s += text_[pos_++];
      }
      if (pos_ >= text_.size()) return Bad(At() + "a string is not closed");
      ++pos_;
      return s;
    }
    std::string w = Word();
    if (w.empty()) return Bad(At() + "expected a value");
    return w;
  }

  Result<Value> ParseValue() {
    Value v;
    if (pos_ < text_.size() && text_[pos_] == '[') {
      v.list = true;
      ++pos_;
      for (;;) {
        Skip();
        if (pos_ < text_.size() && text_[pos_] == ']') {
          ++pos_;
          return v;
        }
        if (v.items.size() >= kMaxListItems) return Bad(At() + "a list is too long");
        ASSIGN_OR_RETURN(std::string item, Scalar());
        v.items.push_back(std::move(item));
        Skip();
        if (pos_ < text_.size() && text_[pos_] == ',') {
          ++pos_;
        } else if (pos_ >= text_.size() || text_[pos_] != ']') {
          return Bad(At() + "expected ',' or ']' in a list");
        }
      }
    }
    ASSIGN_OR_RETURN(v.scalar, Scalar());
    return v;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

// A disk target's legacy prefixes: "phy:", "file:", "tap:aio:", "tap:qcow2:", ...
void StripPrefixes(std::string& target, std::string& format) {
  static const std::map<std::string, std::string> kFormats = {
      {"qcow", "qcow"}, {"qcow2", "qcow2"}, {"vhd", "vpc"}, {"raw", "raw"}, {"qed", "qed"}};
  for (;;) {
    size_t colon = target.find(':');
    if (colon == std::string::npos || target[0] == '/') return;
    std::string prefix = target.substr(0, colon);
    if (prefix == "phy" || prefix == "file" || prefix == "tap" || prefix == "tap2" ||
        prefix == "aio" || prefix == "tapdisk" || prefix == "sync") {
      target = target.substr(colon + 1);
    } else if (auto f = kFormats.find(prefix); f != kFormats.end()) {
      format = f->second;
      target = target.substr(colon + 1);
    } else {
      return;
    }
  }
}

struct XlDisk {
  std::string target, format, vdev, access, devtype;
};

Result<XlDisk> ParseDiskSpec(const std::string& spec) {
  XlDisk d;
  std::vector<std::string> positional;
  for (const std::string& part : SplitTrimmed(spec, ',')) {
    size_t eq = part.find('=');
    if (eq == std::string::npos) {
      positional.push_back(part);
      continue;
    }
    std::string key = Trim(part.substr(0, eq)), value = Trim(part.substr(eq + 1));
    if (key == "target") d.target = value;
    if (key == "format") d.format = value;
    if (key == "vdev") d.vdev = value;
    if (key == "access" || key == "mode") d.access = value;
    if (key == "devtype") d.devtype = value;
  }
  if (positional.size() == 4) {
    d.target = positional[0];
    d.format = positional[1];
    d.vdev = positional[2];
    d.access = positional[3];
  } else if (positional.size() == 3) {
    d.target = positional[0];
    d.vdev = positional[1];
    d.access = positional[2];
  } else if (!positional.empty() && positional.size() != 1) {
    return Bad("disk '" + spec + "': expected TARGET,VDEV,ACCESS or key=value settings");
  } else if (positional.size() == 1 && d.target.empty()) {
    d.target = positional[0];
  }
  if (size_t colon = d.vdev.find(':'); colon != std::string::npos) {
    if (d.vdev.substr(colon + 1) == "cdrom") d.devtype = "cdrom";
    d.vdev = d.vdev.substr(0, colon);
  }
  StripPrefixes(d.target, d.format);
  return d;
}

// xvdb -> 1, hda -> 0, sdc -> 2: the guest's disk order.
int DiskLetter(const std::string& vdev) {
  for (const char* prefix : {"xvd", "hd", "sd", "vd"}) {
    std::string p = prefix;
    if (vdev.rfind(p, 0) == 0 && vdev.size() > p.size() && vdev[p.size()] >= 'a' &&
        vdev[p.size()] <= 'z') {
      return vdev[p.size()] - 'a';
    }
  }
  return 26;
}

std::string BusOf(const std::string& vdev) {
  if (vdev.rfind("xvd", 0) == 0) return "xen";
  if (vdev.rfind("hd", 0) == 0) return "ide";
  if (vdev.rfind("sd", 0) == 0) return "scsi";
  return "xen";
}

Status AddDisks(const Value& list, const std::string& dir, SourceVm& vm) {
  std::vector<std::pair<int, SourceDisk>> disks;
  for (const std::string& spec : list.items) {
    ASSIGN_OR_RETURN(XlDisk d, ParseDiskSpec(spec));
    if (d.devtype == "cdrom") {
      vm.not_carried.push_back("CD/DVD " + d.vdev +
                               (d.target.empty() ? "" : " (" + d.target + ")"));
      continue;
    }
    if (d.target.empty()) return Bad("disk '" + spec + "' names no target");
    if (d.vdev.empty()) return Bad("disk '" + spec + "' names no vdev");
    SourceDisk s;
    s.path = ResolveRelative(dir + "/x", d.target);
    if (!d.format.empty()) {
      Result<Format> f = ParseFormat(d.format);
      if (!f.ok()) return Bad("disk " + d.vdev + ": " + f.error().message());
      s.format = *f;
    }
    s.bus = BusOf(d.vdev);
    s.target = d.vdev;
    if (d.access == "r" || d.access == "ro") {
      vm.notes.push_back("disk " + d.vdev +
                         " was read-only under Xen; ferry run would make it "
                         "writable unless given ,readonly");
    }
    disks.emplace_back(DiskLetter(d.vdev), std::move(s));
  }
  // The guest names its disks by letter: keep that order so xvdb stays vdb.
  std::stable_sort(disks.begin(), disks.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [letter, disk] : disks) vm.disks.push_back(std::move(disk));
  return OkStatus();
}

void AddNics(const Value& list, SourceVm& vm) {
  for (const std::string& spec : list.items) {
    SourceNic n;
    std::string mac;
    for (const std::string& part : SplitTrimmed(spec, ',')) {
      size_t eq = part.find('=');
      if (eq == std::string::npos) continue;
      std::string key = Trim(part.substr(0, eq)), value = Trim(part.substr(eq + 1));
      if (key == "mac") mac = value;
      if (key == "bridge") n.network = value;
      if (key == "model") n.model = value;
      if (key == "type" && n.model.empty() && value == "vif") n.model = "netfront";
    }
    if (n.model.empty()) n.model = "netfront";
    if (auto m = NormalizeMac(mac)) {
      n.mac = *m;
    } else {
      vm.not_carried.push_back("MAC address of vif " + std::to_string(vm.nics.size()) + " (" +
                               (mac.empty() ? "none given: Xen makes one up at each boot"
                                            : "'" + mac + "' is not valid") +
                               "): a new one is needed");
    }
    vm.nics.push_back(n);
  }
}

Result<uint64_t> Count(const std::map<std::string, Value>& s, const char* key, uint64_t fallback,
                       uint64_t max) {
  auto it = s.find(key);
  if (it == s.end()) return fallback;
  const std::string& v = it->second.scalar;
  if (it->second.list || v.empty() || v.size() > 12 ||
      !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Bad(std::string(key) + " '" + v + "' is not a number");
  }
  uint64_t n = std::stoull(v);
  if (n > max) return Bad(std::string(key) + " " + v + " is out of range");
  return n;
}

std::string Scalar(const std::map<std::string, Value>& s, const char* key) {
  auto it = s.find(key);
  return it == s.end() || it->second.list ? "" : it->second.scalar;
}

void NoteGuestType(const std::map<std::string, Value>& s, SourceVm& vm) {
  std::string type = Scalar(s, "type");
  if (type.empty()) type = Scalar(s, "builder") == "hvm" ? "hvm" : "pv";
  std::string firmware = Scalar(s, "firmware");
  vm.firmware =
      firmware == "uefi" || firmware == "ovmf" || Scalar(s, "bios") == "ovmf" ? "efi" : "bios";
  vm.guest_os = "xen-" + type;
  if (type == "pv" || type == "pvh") {
    vm.notes.push_back("Xen " + type +
                       " guest: it needs a kernel with virtio drivers to boot "
                       "under KVM" +
                       (Scalar(s, "kernel").empty()
                            ? ""
                            : " (the kernel it booted, " + Scalar(s, "kernel") +
                                  ", lives on the Xen host, not in the "
                                  "disk image)"));
  }
}

// Settings that name host resources ferry does not take over.
void NoteLeftBehind(const std::map<std::string, Value>& s, SourceVm& vm) {
  static const char* kDevices[] = {"pci", "usbdev", "usbctrl", "vfb",  "channel", "vtpm",
                                   "p9",  "dtdev",  "ioports", "irqs", "soundhw", "usb"};
  for (const char* key : kDevices) {
    if (s.count(key)) vm.not_carried.push_back("'" + std::string(key) + "' devices");
  }
  if (Scalar(s, "vnc") == "1" || Scalar(s, "sdl") == "1") vm.not_carried.push_back("graphics");
  if (s.count("maxmem") && Scalar(s, "maxmem") != Scalar(s, "memory")) {
    vm.not_carried.push_back("maxmem " + Scalar(s, "maxmem") +
                             " MiB (memory ballooning): the VM gets its 'memory' size");
  }
}

}  // namespace

Result<SourceVm> ParseXlConfig(const std::string& text, const std::string& dir) {
  ASSIGN_OR_RETURN(auto settings, Lexer(text).Settings());
  SourceVm vm;
  vm.kind = "xl";
  vm.name = Scalar(settings, "name");
  if (vm.name.empty()) return Bad("no 'name' setting");
  ASSIGN_OR_RETURN(uint64_t memory, Count(settings, "memory", 128, 1 << 24));
  vm.memory_bytes = memory << 20;
  ASSIGN_OR_RETURN(uint64_t vcpus, Count(settings, "vcpus", 1, 255));
  if (vcpus == 0) return Bad("vcpus 0 is out of range");
  vm.vcpus = uint32_t(vcpus);
  NoteGuestType(settings, vm);
  if (auto disks = settings.find("disk"); disks != settings.end()) {
    if (!disks->second.list) return Bad("'disk' is not a list");
    RETURN_IF_ERROR(AddDisks(disks->second, dir, vm));
  }
  if (auto vifs = settings.find("vif"); vifs != settings.end()) {
    if (!vifs->second.list) return Bad("'vif' is not a list");
    AddNics(vifs->second, vm);
  }
  NoteLeftBehind(settings, vm);
  return vm;
}

bool LooksLikeXlConfig(const std::string& head) {
  std::string text = "\n" + head;
  for (const char* key : {"\ndisk", "\nvif", "\nbuilder", "\ntype", "\nmemory", "\nname"}) {
    size_t at = text.find(key);
    while (at != std::string::npos) {
      size_t p = at + std::char_traits<char>::length(key);
      while (p < text.size() && (text[p] == ' ' || text[p] == '\t')) ++p;
      if (p < text.size() && text[p] == '=' &&
          (std::string(key) != "\nname" || text.find("\nmemory") != std::string::npos)) {
        return true;
      }
      at = text.find(key, at + 1);
    }
  }
  return false;
}

}  // namespace ferry::image
