#include "control/vm_description.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "base/json.h"
#include "image/file.h"

namespace ferry {
namespace {

constexpr uint64_t kMemoryGranule = 2ull << 20;
constexpr uint64_t kMinimumMemory = 16ull << 20;

Error Bad(const std::string& file, const std::string& what) {
  return Error(ErrorCode::kInvalidArgument, file + ": " + what);
}

// Relative paths name files beside vm.json; an empty one stays empty.
std::string Resolve(const std::string& dir, const std::string& path) {
  return path.empty() ? path : image::ResolveRelative(dir + "/", path);
}

Result<const Json*> OptionalString(const Json& j, const char* key, const std::string& file) {
  const Json* v = j.Get(key);
  if (v != nullptr && !v->is_null() && !v->is_string()) {
    return Bad(file, std::string("'") + key + "' must be a string");
  }
  return v != nullptr && v->is_string() ? v : nullptr;
}

Result<uint64_t> OptionalCount(const Json& j, const char* key, const std::string& file) {
  const Json* v = j.Get(key);
  if (v == nullptr || v->is_null()) return uint64_t{0};
  if (!v->is_int() || v->as_int() < 0) {
    return Bad(file, std::string("'") + key + "' must be a non-negative integer");
  }
  return static_cast<uint64_t>(v->as_int());
}

// Other platforms size memory in MiB steps; ferry's slots take 2 MiB ones.
uint64_t MemoryForFerry(uint64_t bytes) {
  if (bytes == 0) return 0;
  uint64_t rounded = (bytes + kMemoryGranule - 1) / kMemoryGranule * kMemoryGranule;
  return rounded < kMinimumMemory ? kMinimumMemory : rounded;
}

Status ParseDisks(const Json& root, const std::string& dir, const std::string& file,
                  VmDescription& out) {
  const Json* disks = root.Get("disks");
  if (disks == nullptr || disks->is_null()) return OkStatus();
  if (!disks->is_array()) return Bad(file, "'disks' must be a list");
  for (size_t i = 0; i < disks->as_array().size(); ++i) {
    const Json& d = disks->as_array()[i];
    const std::string which = "disks[" + std::to_string(i) + "]";
    if (!d.is_object()) return Bad(file, which + " must be an object");
    ASSIGN_OR_RETURN(const Json* path, OptionalString(d, "file", file));
    if (path == nullptr || path->as_string().empty()) return Bad(file, which + " has no 'file'");
    ASSIGN_OR_RETURN(const Json* format, OptionalString(d, "format", file));
    out.disks.push_back(
        {Resolve(dir, path->as_string()), format != nullptr ? format->as_string() : "raw"});
  }
  return OkStatus();
}

Status ParseNics(const Json& root, const std::string& file, VmDescription& out) {
  const Json* nics = root.Get("nics");
  if (nics == nullptr || nics->is_null()) return OkStatus();
  if (!nics->is_array()) return Bad(file, "'nics' must be a list");
  for (size_t i = 0; i < nics->as_array().size(); ++i) {
    const Json& n = nics->as_array()[i];
    const std::string which = "nics[" + std::to_string(i) + "]";
    if (!n.is_object()) return Bad(file, which + " must be an object");
    ASSIGN_OR_RETURN(const Json* mac, OptionalString(n, "mac", file));
    if (mac == nullptr) {
      out.nic_macs.push_back(std::nullopt);
      continue;
    }
    Result<MacAddress> parsed = ParseMac(mac->as_string());
    if (!parsed.ok()) return Bad(file, which + ": " + parsed.error().message());
    out.nic_macs.push_back(*parsed);
  }
  return OkStatus();
}

}  // namespace

Result<VmDescription> ParseVmDescription(const std::string& text, const std::string& dir,
                                         const std::string& file) {
  Result<Json> parsed = Json::Parse(text);
  if (!parsed.ok()) return Bad(file, "not a VM description: " + parsed.error().message());
  const Json& root = *parsed;
  if (!root.is_object()) return Bad(file, "not a VM description (expected a JSON object)");
  VmDescription out;
  ASSIGN_OR_RETURN(const Json* name, OptionalString(root, "name", file));
  if (name != nullptr) out.name = name->as_string();
  ASSIGN_OR_RETURN(uint64_t memory, OptionalCount(root, "memory", file));
  out.memory_bytes = MemoryForFerry(memory);
  out.recorded_memory_bytes = memory;
  ASSIGN_OR_RETURN(uint64_t cpus, OptionalCount(root, "vcpus", file));
  if (cpus > 255) return Bad(file, "'vcpus' " + std::to_string(cpus) + " is more than 255");
  out.cpus = static_cast<uint32_t>(cpus);
  ASSIGN_OR_RETURN(const Json* kernel, OptionalString(root, "kernel", file));
  if (kernel != nullptr) out.kernel = Resolve(dir, kernel->as_string());
  ASSIGN_OR_RETURN(const Json* cmdline, OptionalString(root, "cmdline", file));
  if (cmdline != nullptr) out.cmdline = cmdline->as_string();
  ASSIGN_OR_RETURN(const Json* firmware, OptionalString(root, "firmware", file));
  if (firmware != nullptr) out.firmware = firmware->as_string();
  ASSIGN_OR_RETURN(const Json* guest_os, OptionalString(root, "guest_os", file));
  if (guest_os != nullptr) out.guest_os = guest_os->as_string();
  if (const Json* from = root.Get("imported_from"); from != nullptr && from->is_object()) {
    ASSIGN_OR_RETURN(const Json* kind, OptionalString(*from, "kind", file));
    if (kind != nullptr) out.imported_from = kind->as_string();
  }
  RETURN_IF_ERROR(ParseDisks(root, dir, file, out));
  RETURN_IF_ERROR(ParseNics(root, file, out));
  return out;
}

Result<VmDescription> LoadVmDescription(const std::string& path) {
  std::string file = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) file = path + "/vm.json";
  std::ifstream in(file);
  if (!in) {
    return Error(ErrorCode::kNotFound, "--vm " + path + ": cannot read " + file +
                                           " (give vm.json or the directory ferry import wrote)");
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseVmDescription(text.str(), image::DirName(file), file);
}

}  // namespace ferry
