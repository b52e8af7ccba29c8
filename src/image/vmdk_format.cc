#include "image/vmdk_format.h"

#include <cstring>
#include <sstream>

#include "base/endian.h"
#include "base/units.h"
#include "image/text_util.h"

namespace ferry::image::vmdk {
namespace {

Error Corrupt(const std::string& what) {
  return Error(ErrorCode::kCorrupt, "vmdk: " + what);
}

std::string Unquote(const std::string& s) {
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') return s.substr(1, s.size() - 2);
  return s;
}

// "RW 2097152 SPARSE "disk.vmdk"" / "RW 2048 FLAT "f.vmdk" 0" / "RW 100 ZERO".
Result<ExtentLine> ParseExtent(const std::string& line) {
  std::string access, type;
  std::istringstream in(line);
  std::string sectors;
  in >> access >> sectors >> type;
  if (access != "RW" && access != "RDONLY" && access != "NOACCESS") {
    return Corrupt("descriptor extent line has unknown access '" + access + "'");
  }
  ExtentLine e;
  Result<uint64_t> n = ParseUnsigned(sectors);
  if (!n.ok() || *n == 0 || *n > (uint64_t(1) << 40)) {
    return Corrupt("descriptor extent has a bad sector count '" + sectors + "'");
  }
  e.sectors = *n;
  if (type == "ZERO") {
    e.type = ExtentType::kZero;
    return e;
  }
  if (type == "FLAT" || type == "VMFS") {
    e.type = ExtentType::kFlat;
  } else if (type == "SPARSE" || type == "VMFSSPARSE" || type == "SESPARSE") {
    // The extent file's own magic (KDMV, COWD, seSparse) says which layout.
    e.type = ExtentType::kSparse;
  } else {
    return Error(ErrorCode::kUnimplemented, "vmdk extent type '" + type + "' is not supported");
  }
  size_t q1 = line.find('"');
  size_t q2 = q1 == std::string::npos ? q1 : line.find('"', q1 + 1);
  if (q2 == std::string::npos || q2 == q1 + 1) return Corrupt("descriptor extent names no file");
  e.file = line.substr(q1 + 1, q2 - q1 - 1);
  std::string rest = Trim(line.substr(q2 + 1));
  if (!rest.empty()) {
    Result<uint64_t> off = ParseUnsigned(rest);
    if (!off.ok()) return Corrupt("descriptor extent has a bad offset '" + rest + "'");
    e.offset = *off;
  }
  return e;
}

}  // namespace

Result<SparseHeader> ParseSparseHeader(const uint8_t* p) {
  if (LoadLE32(p) != kSparseMagic) return Corrupt("not a sparse extent (bad magic)");
  SparseHeader h;
  h.version = LoadLE32(p + 4);
  h.flags = LoadLE32(p + 8);
  h.capacity = LoadLE64(p + 12);
  h.grain_size = LoadLE64(p + 20);
  h.descriptor_offset = LoadLE64(p + 28);
  h.descriptor_size = LoadLE64(p + 36);
  h.gtes_per_gt = LoadLE32(p + 44);
  h.rgd_offset = LoadLE64(p + 48);
  h.gd_offset = LoadLE64(p + 56);
  h.overhead = LoadLE64(p + 64);
  h.compress_algorithm = LoadLE16(p + 77);
  if (h.version < 1 || h.version > 3) {
    return Error(ErrorCode::kUnimplemented,
                 "vmdk sparse extent version " + std::to_string(h.version) + " is not supported");
  }
  if (h.grain_size == 0 || h.grain_size > 65536 || (h.grain_size & (h.grain_size - 1))) {
    return Corrupt("grain size of " + std::to_string(h.grain_size) + " sectors is invalid");
  }
  if (h.gtes_per_gt == 0 || h.gtes_per_gt > 65536) {
    return Corrupt(std::to_string(h.gtes_per_gt) + " entries per grain table is invalid");
  }
  if (h.capacity > (uint64_t(1) << 40)) return Corrupt("capacity is absurdly large");
  if (h.descriptor_size > kMaxDescriptorBytes / kSector) return Corrupt("descriptor is too large");
  if ((h.flags & kFlagCompressed) && h.compress_algorithm != kCompressDeflate) {
    return Error(
        ErrorCode::kUnimplemented,
        "vmdk compression algorithm " + std::to_string(h.compress_algorithm) + " is not supported");
  }
  if ((h.flags & kFlagCompressed) && !(h.flags & kFlagMarkers)) {
    return Error(ErrorCode::kUnimplemented,
                 "vmdk compressed grains without markers are not supported");
  }
  return h;
}

void EncodeSparseHeader(const SparseHeader& h, uint8_t* p) {
  std::memset(p, 0, kSector);
  StoreLE32(p, kSparseMagic);
  StoreLE32(p + 4, h.version);
  StoreLE32(p + 8, h.flags);
  StoreLE64(p + 12, h.capacity);
  StoreLE64(p + 20, h.grain_size);
  StoreLE64(p + 28, h.descriptor_offset);
  StoreLE64(p + 36, h.descriptor_size);
  StoreLE32(p + 44, h.gtes_per_gt);
  StoreLE64(p + 48, h.rgd_offset);
  StoreLE64(p + 56, h.gd_offset);
  StoreLE64(p + 64, h.overhead);
  p[72] = 0;  // clean shutdown
  // The newline-detection characters: a file mangled by text-mode transfer
  // no longer matches them.
  p[73] = '\n';
  p[74] = ' ';
  p[75] = '\r';
  p[76] = '\n';
  StoreLE16(p + 77, h.compress_algorithm);
}

Result<Descriptor> ParseDescriptor(const std::string& text) {
  Descriptor d;
  std::istringstream in(text);
  std::string line;
  bool any = false;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.find('\0') != std::string::npos) break;  // padding after the text
    if (line.rfind("RW ", 0) == 0 || line.rfind("RDONLY ", 0) == 0 ||
        line.rfind("NOACCESS ", 0) == 0) {
      ASSIGN_OR_RETURN(ExtentLine e, ParseExtent(line));
      d.extents.push_back(std::move(e));
      any = true;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = Trim(line.substr(0, eq));
    std::string value = Unquote(Trim(line.substr(eq + 1)));
    if (key == "createType")
      d.create_type = value;
    else if (key == "CID")
      d.cid = value;
    else if (key == "parentCID")
      d.parent_cid = value;
    else if (key == "parentFileNameHint")
      d.parent_hint = value;
    else if (key.rfind("ddb.", 0) == 0)
      d.ddb[key] = value;
  }
  if (!any) return Corrupt("descriptor lists no extents");
  return d;
}

}  // namespace ferry::image::vmdk
