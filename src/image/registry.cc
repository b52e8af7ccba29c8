// Format names, probing, and the one place that maps a Format to its reader
// and writer.
#include <limits.h>
#include <stdlib.h>

#include <cstring>

#include "base/endian.h"
#include "base/units.h"
#include "image/file.h"
#include "image/image.h"
#include "image/qcow2_reader.h"
#include "image/qcow2_writer.h"
#include "image/raw.h"
#include "image/vhd.h"
#include "image/vhdx.h"
#include "image/vmdk_reader.h"
#include "image/vmdk_writer.h"

namespace ferry::image {

Result<Format> ParseFormat(std::string_view name) {
  if (name == "raw") return Format::kRaw;
  if (name == "qcow2") return Format::kQcow2;
  if (name == "vmdk") return Format::kVmdk;
  if (name == "vpc" || name == "vhd") return Format::kVhd;
  if (name == "vhdx") return Format::kVhdx;
  return Error(ErrorCode::kInvalidArgument,
               "unknown image format '" + std::string(name) + "' (raw, qcow2, vmdk, vpc, vhdx)");
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::kRaw:
      return "raw";
    case Format::kQcow2:
      return "qcow2";
    case Format::kVmdk:
      return "vmdk";
    case Format::kVhd:
      return "vpc";
    case Format::kVhdx:
      return "vhdx";
  }
  return "?";
}

Result<Format> ProbeFormat(const std::string& path) {
  ASSIGN_OR_RETURN(ImageFile file, ImageFile::Open(path, false));
  uint8_t head[512] = {};
  ASSIGN_OR_RETURN(size_t got, file.ReadSomeAt(0, head));
  if (got >= 4 && LoadBE32(head) == 0x514649fb) return Format::kQcow2;
  if (got >= 4 && std::memcmp(head, "KDMV", 4) == 0) return Format::kVmdk;
  if (got >= 4 && std::memcmp(head, "COWD", 4) == 0) return Format::kVmdk;  // an ESX delta
  if (got >= 21 && std::memcmp(head, "# Disk DescriptorFile", 21) == 0) return Format::kVmdk;
  if (got >= 8 && std::memcmp(head, "vhdxfile", 8) == 0) return Format::kVhdx;
  if (got >= 8 && std::memcmp(head, "conectix", 8) == 0) return Format::kVhd;
  // A fixed VHD has its footer only at the end.
  ASSIGN_OR_RETURN(uint64_t size, file.Size());
  if (size >= 512 && size % 512 == 0) {
    uint8_t tail[8];
    ASSIGN_OR_RETURN(size_t n, file.ReadSomeAt(size - 512, tail));
    if (n == 8 && std::memcmp(tail, "conectix", 8) == 0) return Format::kVhd;
  }
  return Format::kRaw;
}

Result<std::unique_ptr<ImageReader>> OpenImage(const std::string& path, OpenOptions options) {
  char real[PATH_MAX];
  if (::realpath(path.c_str(), real) == nullptr) return ErrnoError("open " + path);
  if (!options.chain.insert(real).second) {
    return Error(ErrorCode::kCorrupt, "backing chain loops back to " + path);
  }
  if (options.chain.size() > 64) {
    return Error(ErrorCode::kCorrupt, "backing chain deeper than 64 images at " + path);
  }
  Format format;
  if (options.format) {
    format = *options.format;
  } else {
    ASSIGN_OR_RETURN(format, ProbeFormat(path));
  }
  switch (format) {
    case Format::kRaw:
      return OpenRaw(path);
    case Format::kQcow2:
      return OpenQcow2(path, options);
    case Format::kVmdk:
      return OpenVmdk(path, options);
    case Format::kVhd:
      return OpenVhd(path, options);
    case Format::kVhdx:
      return OpenVhdx(path, options);
  }
  return Error(ErrorCode::kUnimplemented,
               std::string("reading ") + FormatName(format) + " images is not implemented");
}

Result<std::unique_ptr<ImageWriter>> CreateImage(Format format, const std::string& path,
                                                 uint64_t size, const CreateOptions& options) {
  if (format != Format::kQcow2 && (!options.backing_file.empty() || options.compress)) {
    return Error(ErrorCode::kInvalidArgument,
                 std::string(FormatName(format)) +
                     " images support neither backing files nor compression here");
  }
  switch (format) {
    case Format::kRaw:
      return CreateRaw(path, size, options);
    case Format::kQcow2:
      return CreateQcow2(path, size, options);
    case Format::kVmdk:
      return CreateVmdk(path, size, options);
    case Format::kVhd:
      return CreateVhd(path, size, options);
    case Format::kVhdx:
      return CreateVhdx(path, size, options);
  }
  return Error(ErrorCode::kUnimplemented,
               std::string("ferry image: ") + FormatName(format) + " write is not implemented");
}

Result<std::unique_ptr<ImageWriter>> ResumeImage(Format format, const std::string& path,
                                                 uint64_t size, const CreateOptions& options,
                                                 std::span<const uint8_t> state) {
  switch (format) {
    case Format::kRaw:
      if (!state.empty()) return Error(ErrorCode::kCorrupt, "raw checkpoint state is not empty");
      return ResumeRaw(path, size, options);
    case Format::kQcow2:
      return ResumeQcow2(path, size, options, state);
    case Format::kVmdk:
      return ResumeVmdk(path, size, options, state);
    case Format::kVhd:
      return ResumeVhd(path, size, options, state);
    case Format::kVhdx:
      break;
  }
  return Error(ErrorCode::kUnimplemented,
               std::string("resuming a ") + FormatName(format) + " output is not implemented");
}

Status ParseCreateOptions(std::string_view text, CreateOptions& o) {
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string key(item.substr(0, eq));
    std::string value(eq == std::string_view::npos ? "" : item.substr(eq + 1));
    if (key == "cluster_size") {
      ASSIGN_OR_RETURN(o.cluster_size, ParseSize(value));
    } else if (key == "compat") {
      o.compat = value;
    } else if (key == "backing_file") {
      o.backing_file = value;
    } else if (key == "backing_fmt") {
      ASSIGN_OR_RETURN(o.backing_format, ParseFormat(value));
    } else if (key == "compression_type") {
      if (value == "zlib") {
        o.compression = Compression::kZlib;
      } else if (value == "zstd") {
        o.compression = Compression::kZstd;
      } else {
        return Error(ErrorCode::kInvalidArgument, "compression_type must be zlib or zstd");
      }
    } else if (key == "subformat") {
      o.subformat = value;
    } else if (key == "adapter_type") {
      o.adapter_type = value;
    } else {
      return Error(ErrorCode::kInvalidArgument, "unknown image option '" + key + "'");
    }
  }
  return OkStatus();
}

}  // namespace ferry::image
