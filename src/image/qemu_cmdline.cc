// QEMU command lines (a script that starts qemu-system-x86_64 or qemu-kvm):
// the shell words are split as sh would (quotes, backslash escapes, line
// continuations; variables are not expanded), then the options that define
// the machine are read: -name, -m, -smp, -drive/-hdX, -blockdev with
// -device ...,drive=, -netdev/-nic/-net with their MAC, -kernel/-append,
// and firmware (-bios or a pflash drive).
#include <algorithm>
#include <cctype>
#include <map>

#include "image/file.h"
#include "image/vm_source.h"

namespace ferry::image {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

constexpr size_t kMaxWords = 4096;

Error Bad(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "qemu command line: " + what);
}

Result<std::vector<std::string>> ShellWords(const std::string& text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\\' && i + 1 < text.size()) {
      if (text[i + 1] != '\n') {
        word += text[i + 1];
        in_word = true;
      }
      ++i;
    } else if (c == '\'' || c == '"') {
      size_t end = text.find(c, i + 1);
      if (end == std::string::npos) return Bad("a quoted string is not closed");
      word += text.substr(i + 1, end - i - 1);
      in_word = true;
      i = end;
    } else if (c == '#' && !in_word) {
      while (i < text.size() && text[i] != '\n') ++i;
      if (!words.empty() && words.back() != ";") words.push_back(";");
    } else if (c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|') {
      if (in_word) words.push_back(word);
      if ((c == '\n' || c == ';' || c == '&' || c == '|') &&
          (words.empty() || words.back() != ";")) {
        words.push_back(";");
      }
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
    if (words.size() > kMaxWords) return Bad("more than " + std::to_string(kMaxWords) + " words");
  }
  if (in_word) words.push_back(word);
  return words;
}

bool IsQemu(const std::string& word) {
  std::string base = word.substr(word.rfind('/') + 1);
  return base.rfind("qemu-system-", 0) == 0 || base == "qemu-kvm" || base == "kvm";
}

// The words of the first qemu invocation, after the program name.
Result<std::vector<std::string>> QemuArgs(const std::string& text) {
  ASSIGN_OR_RETURN(std::vector<std::string> words, ShellWords(text));
  for (size_t i = 0; i < words.size(); ++i) {
    if (!IsQemu(words[i])) continue;
    std::vector<std::string> args;
    for (size_t j = i + 1; j < words.size() && words[j] != ";"; ++j) args.push_back(words[j]);
    return args;
  }
  return Bad("no qemu-system-* or qemu-kvm command in the file");
}

// "a=1,b=x" (with ",," for a literal comma, as QEMU escapes it); the first
// item may be a bare value, stored under "".
std::map<std::string, std::string> KeyValues(const std::string& text, const std::string& implied) {
  std::map<std::string, std::string> out;
  std::string item;
  std::vector<std::string> items;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ',' && i + 1 < text.size() && text[i + 1] == ',') {
      item += ',';
      ++i;
    } else if (text[i] == ',') {
      items.push_back(item);
      item.clear();
    } else {
      item += text[i];
    }
  }
  items.push_back(item);
  for (size_t i = 0; i < items.size(); ++i) {
    size_t eq = items[i].find('=');
    if (eq == std::string::npos) {
      out[i == 0 ? implied : items[i]] = i == 0 ? items[i] : "on";
    } else {
      out[items[i].substr(0, eq)] = items[i].substr(eq + 1);
    }
  }
  return out;
}

Result<uint64_t> Size(const std::string& text, const std::string& what) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) {
    return Bad(what + " '" + text + "' is not a size");
  }
  size_t used = 0;
  while (used < text.size() && IsDigit(text[used])) ++used;
  if (used > 15) return Bad(what + " '" + text + "' is too large");
  const uint64_t n = std::stoull(text.substr(0, used));
  std::string unit = text.substr(used);
  uint64_t scale = uint64_t(1) << 20;  // QEMU's -m default unit
  if (unit == "K" || unit == "k")
    scale = 1 << 10;
  else if (unit == "G" || unit == "g")
    scale = uint64_t(1) << 30;
  else if (unit == "T" || unit == "t")
    scale = uint64_t(1) << 40;
  else if (unit == "B" || unit == "b")
    scale = 1;
  else if (!unit.empty() && unit != "M" && unit != "m")
    return Bad(what + " '" + text + "' has an unknown unit");
  if (n > (uint64_t(1) << 50) / scale) return Bad(what + " '" + text + "' is too large");
  return n * scale;
}

struct Drive {
  std::string id, file, format, interface, media;
  bool attached = false;
};

std::string BusOfDevice(const std::string& driver) {
  if (driver.rfind("virtio-blk", 0) == 0) return "virtio";
  if (driver == "scsi-hd" || driver == "scsi-disk") return "scsi";
  if (driver == "ide-hd" || driver == "ide-drive") return "ide";
  if (driver == "nvme") return "nvme";
  if (driver == "usb-storage") return "usb";
  return "";
}

bool IsNicDevice(const std::string& driver) {
  static const char* kNics[] = {"virtio-net", "e1000", "rtl8139", "vmxnet3",
                                "ne2k",       "pcnet", "igb"};
  for (const char* n : kNics) {
    if (driver.rfind(n, 0) == 0) return true;
  }
  return false;
}

class Reader {
 public:
  Reader(const std::string& dir, SourceVm& vm) : dir_(dir), vm_(vm) {}

  Status Option(const std::string& opt, const std::string& value) {
    if (opt == "-name") {
      auto kv = KeyValues(value, "guest");
      vm_.name = kv["guest"];
    } else if (opt == "-m") {
      auto kv = KeyValues(value, "size");
      ASSIGN_OR_RETURN(vm_.memory_bytes, Size(kv["size"], "-m"));
    } else if (opt == "-smp") {
      return Smp(value);
    } else if (opt == "-drive") {
      return AddDrive(KeyValues(value, "file"));
    } else if (opt == "-hda" || opt == "-hdb" || opt == "-hdc" || opt == "-hdd") {
      return AddDrive({{"file", value}, {"if", "ide"}, {"index", std::string(1, opt[3])}});
    } else if (opt == "-cdrom") {
      vm_.not_carried.push_back("CD/DVD (" + value + ")");
    } else if (opt == "-blockdev") {
      return Blockdev(value);
    } else if (opt == "-device") {
      Device(KeyValues(value, "driver"));
    } else if (opt == "-nic" || opt == "-net") {
      auto kv = KeyValues(value, "type");
      if (opt == "-net" && kv["type"] != "nic") return OkStatus();  // the backend half
      AddNic(kv.count("mac") ? kv["mac"] : kv["macaddr"], kv["model"]);
    } else if (opt == "-kernel") {
      vm_.kernel = ResolveRelative(dir_ + "/x", value);
    } else if (opt == "-append") {
      vm_.cmdline = value;
    } else if (opt == "-bios") {
      if (value.find("OVMF") != std::string::npos || value.find("ovmf") != std::string::npos) {
        vm_.firmware = "efi";
      }
    } else if (opt == "-usb" || opt == "-soundhw" || opt == "-audiodev") {
      vm_.not_carried.push_back(opt + (value.empty() ? "" : " " + value));
    }
    return OkStatus();
  }

  Status Finish() {
    // Drives QEMU attaches by itself (if=virtio/ide/scsi), then those a
    // -device attached, in command-line order: the guest's disk order.
    for (const Drive& d : drives_) {
      if (d.interface == "none" && !d.attached) {
        vm_.notes.push_back("drive " + (d.id.empty() ? d.file : d.id) +
                            " is not attached to any device: not imported");
      }
    }
    return OkStatus();
  }

 private:
  Status Smp(const std::string& value) {
    auto kv = KeyValues(value, "cpus");
    uint64_t cpus = 0;
    auto num = [&](const char* key, uint64_t fallback) -> Result<uint64_t> {
      auto it = kv.find(key);
      if (it == kv.end() || it->second.empty()) return fallback;
      if (!std::all_of(it->second.begin(), it->second.end(), IsDigit) || it->second.size() > 4) {
        return Bad(std::string("-smp ") + key + " '" + it->second + "' is not a number");
      }
      return std::stoull(it->second);
    };
    ASSIGN_OR_RETURN(cpus, num("cpus", 0));
    if (cpus == 0) {
      ASSIGN_OR_RETURN(uint64_t sockets, num("sockets", 1));
      ASSIGN_OR_RETURN(uint64_t cores, num("cores", 1));
      ASSIGN_OR_RETURN(uint64_t threads, num("threads", 1));
      cpus = sockets * cores * threads;
    }
    if (cpus == 0 || cpus > 255) return Bad("-smp " + value + ": CPU count out of range");
    vm_.vcpus = uint32_t(cpus);
    return OkStatus();
  }

  Status AddDrive(std::map<std::string, std::string> kv) {
    Drive d{kv["id"], kv["file"], kv["format"], kv.count("if") ? kv["if"] : "ide", kv["media"]};
    if (d.interface == "pflash") {
      if (d.file.find("OVMF") != std::string::npos || d.file.find("ovmf") != std::string::npos ||
          d.file.find("VARS") != std::string::npos) {
        vm_.firmware = "efi";
      }
      if (d.file.find("VARS") != std::string::npos) {
        vm_.not_carried.push_back("UEFI variables (" + d.file + "): the guest's boot entries");
      }
      return OkStatus();
    }
    if (d.media == "cdrom") {
      vm_.not_carried.push_back("CD/DVD (" + (d.file.empty() ? "empty" : d.file) + ")");
      return OkStatus();
    }
    if (d.file.empty()) return OkStatus();  // an empty drive
    if (d.interface == "none") {
      drives_.push_back(d);
      return OkStatus();
    }
    return AddDisk(d, d.interface == "virtio" ? "virtio" : d.interface);
  }

  // -blockdev driver=qcow2,node-name=d0,file.driver=file,file.filename=PATH
  // (the JSON form is not read: it says so).
  Status Blockdev(const std::string& value) {
    if (!value.empty() && value[0] == '{') {
      return Error(ErrorCode::kUnimplemented,
                   "qemu command line: -blockdev in JSON form is not read; use key=value form");
    }
    auto kv = KeyValues(value, "driver");
    std::string file = kv["file.filename"];
    if (file.empty() && kv["driver"] == "file") file = kv["filename"];
    if (file.empty()) return OkStatus();  // a node that only names another node
    std::string format = kv["driver"] == "file" ? "" : kv["driver"];
    // A protocol node under a format node: the format node names it as file=.
    for (Drive& d : drives_) {
      if (d.file.empty() && d.format == "" && d.id == kv["node-name"]) d.file = file;
    }
    drives_.push_back({kv["node-name"], file, format, "none", ""});
    return OkStatus();
  }

  void Device(std::map<std::string, std::string> kv) {
    const std::string driver = kv["driver"];
    if (IsNicDevice(driver)) {
      AddNic(kv["mac"], driver);
      return;
    }
    std::string bus = BusOfDevice(driver);
    if (bus.empty()) {
      static const char* kQuiet[] = {
          "virtio-scsi",    "pci-bridge", "pcie-root-port", "isa-debug", "virtio-serial",
          "virtio-balloon", "virtio-rng", "ich9",           "piix",      "lsi",
          "megasas",        "ahci",       "nec-usb",        "qemu-xhci"};
      for (const char* q : kQuiet) {
        if (driver.rfind(q, 0) == 0) return;
      }
      vm_.not_carried.push_back("-device " + driver);
      return;
    }
    const std::string id = kv["drive"];
    for (Drive& d : drives_) {
      if (d.id == id && !d.attached) {
        d.attached = true;
        (void)AddDisk(d, bus);
        return;
      }
    }
    vm_.notes.push_back("-device " + driver + " names drive '" + id + "', which is not defined");
  }

  Status AddDisk(const Drive& d, const std::string& bus) {
    SourceDisk s;
    s.path = ResolveRelative(dir_ + "/x", d.file);
    if (!d.format.empty()) {
      Result<Format> f = ParseFormat(d.format);
      if (!f.ok()) return Bad("drive " + d.file + ": " + f.error().message());
      s.format = *f;
    }
    s.bus = bus;
    s.target = bus + std::to_string(disks_on_[bus]++);
    vm_.disks.push_back(s);
    return OkStatus();
  }

  void AddNic(const std::string& mac, const std::string& model) {
    SourceNic n;
    n.model = model.empty() ? "e1000" : model;  // QEMU's default NIC
    if (auto m = NormalizeMac(mac)) {
      n.mac = *m;
    } else {
      vm_.not_carried.push_back("MAC address of NIC " + std::to_string(vm_.nics.size()) + " (" +
                                (mac.empty() ? "none given: QEMU used 52:54:00:12:34:56 or one "
                                               "made up at start"
                                             : "'" + mac + "' is not valid") +
                                "): a new one is needed");
    }
    vm_.nics.push_back(n);
  }

  std::string dir_;
  SourceVm& vm_;
  std::vector<Drive> drives_;
  std::map<std::string, int> disks_on_;
};

// Options QEMU takes without a value (the rest take one).
bool IsFlag(const std::string& opt) {
  static const char* kFlags[] = {
      "-enable-kvm", "-nographic",      "-no-reboot", "-no-shutdown",    "-daemonize",
      "-S",          "-snapshot",       "-usb",       "-nodefaults",     "-no-hpet",
      "-no-acpi",    "-full-screen",    "-s",         "-no-user-config", "-win2k-hack",
      "-old-param",  "-only-migratable"};
  for (const char* f : kFlags) {
    if (opt == f) return true;
  }
  return false;
}

}  // namespace

Result<SourceVm> ParseQemuCommandLine(const std::string& text, const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> args, QemuArgs(text));
  SourceVm vm;
  vm.kind = "qemu";
  vm.memory_bytes = uint64_t(128) << 20;  // QEMU's default -m
  vm.firmware = "bios";
  Reader reader(dir, vm);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string opt = args[i];
    if (opt.rfind("--", 0) == 0) opt = opt.substr(1);  // QEMU takes --opt as -opt
    if (opt.empty() || opt[0] != '-') {
      RETURN_IF_ERROR(reader.Option("-hda", opt));  // a bare image is -hda
      continue;
    }
    if (IsFlag(opt)) {
      RETURN_IF_ERROR(reader.Option(opt, ""));
      continue;
    }
    if (i + 1 >= args.size()) return Bad(opt + " needs a value");
    RETURN_IF_ERROR(reader.Option(opt, args[++i]));
  }
  RETURN_IF_ERROR(reader.Finish());
  if (vm.name.empty()) vm.name = "qemu-vm";
  return vm;
}

// A line whose command (after exec, sudo, nohup, env, taskset... prefixes
// are skipped) is qemu-system-* or qemu-kvm.
bool LooksLikeQemuCommandLine(const std::string& head) {
  size_t at = 0;
  while (at < head.size()) {
    size_t nl = head.find('\n', at);
    std::string line = head.substr(at, nl == std::string::npos ? nl : nl - at);
    at = nl == std::string::npos ? head.size() : nl + 1;
    size_t p = 0;
    for (;;) {
      p = line.find_first_not_of(" \t", p);
      if (p == std::string::npos) break;
      size_t end = line.find_first_of(" \t", p);
      std::string word = line.substr(p, end == std::string::npos ? end : end - p);
      if (IsQemu(word)) return true;
      if (word != "exec" && word != "sudo" && word != "nohup" && word != "env" &&
          word.find('=') == std::string::npos) {
        break;
      }
      if (end == std::string::npos) break;
      p = end;
    }
  }
  return false;
}

}  // namespace ferry::image
