// `ferry image check`: qemu-img check's report and exit codes
// (0 clean, 1 check failed, 2 corruptions, 3 leaks only, 63 unsupported).
// qcow2 is checked cluster by cluster; VMDK, VHD and VHDX structurally.
#include <cstdio>
#include <optional>

#include "base/json.h"
#include "image/command_util.h"
#include "image/commands.h"
#include "image/file.h"
#include "image/qcow2_check.h"
#include "image/qcow2_repair.h"

namespace ferry::image {
namespace {

void PrintHuman(const qcow2::CheckReport& r) {
  for (const std::string& m : r.messages) std::printf("%s\n", m.c_str());
  if (r.corruptions == 0 && r.leaks == 0) {
    std::printf("No errors were found on the image.\n");
  }
  if (r.corruptions) {
    std::printf(
        "\n%llu errors were found on the image.\n"
        "Data may be corrupted, or further writes to the image may corrupt it.\n",
        (unsigned long long)r.corruptions);
  }
  if (r.leaks) {
    std::printf(
        "\n%llu leaked clusters were found on the image.\n"
        "This means waste of disk space, but no harm to data.\n",
        (unsigned long long)r.leaks);
  }
  if (r.total_clusters) {
    auto pct = [&](uint64_t n, uint64_t of) { return of ? 100.0 * double(n) / double(of) : 0.0; };
    std::printf("%llu/%llu = %.2f%% allocated, %.2f%% fragmented, %.2f%% compressed clusters\n",
                (unsigned long long)r.allocated_clusters, (unsigned long long)r.total_clusters,
                pct(r.allocated_clusters, r.total_clusters),
                pct(r.fragmented_clusters, r.allocated_clusters),
                pct(r.compressed_clusters, r.allocated_clusters));
  }
  std::printf("Image end offset: %llu\n", (unsigned long long)r.image_end_offset);
}

void PrintJson(const std::string& path, const qcow2::CheckReport& r) {
  std::printf(
      "{\n    \"image-end-offset\": %llu,\n    \"total-clusters\": %llu,\n"
      "    \"allocated-clusters\": %llu,\n    \"fragmented-clusters\": %llu,\n"
      "    \"compressed-clusters\": %llu,\n    \"check-errors\": 0,\n"
      "    \"leaks\": %llu,\n    \"corruptions\": %llu,\n    \"filename\": %s,\n"
      "    \"format\": \"qcow2\"\n}\n",
      (unsigned long long)r.image_end_offset, (unsigned long long)r.total_clusters,
      (unsigned long long)r.allocated_clusters, (unsigned long long)r.fragmented_clusters,
      (unsigned long long)r.compressed_clusters, (unsigned long long)r.leaks,
      (unsigned long long)r.corruptions, JsonQuote(path).c_str());
}

// VMDK, VHD and VHDX: their structure is checked the way the readers check
// it (every table entry, offset and overlap), over the whole disk, this
// layer only. A damaged structure is a corruption (exit 2); the formats keep
// no reference counts, so there are no leaks to find.
int CheckStructure(const std::string& path, Format format, bool json, bool quiet) {
  OpenOptions open;
  open.format = format;
  open.open_backing = false;
  std::string problem;
  bool corrupt = false;
  uint64_t end = 0;
  Result<std::unique_ptr<ImageReader>> image = OpenImage(path, open);
  if (image.ok()) {
    const uint64_t size = (*image)->virtual_size();
    for (uint64_t at = 0; at < size;) {
      Result<Extent> e = (*image)->Map(at, size - at);
      if (!e.ok()) {
        image = std::move(e).error();
        break;
      }
      at += e->length;
    }
  }
  if (!image.ok()) {
    problem = image.error().message();
    corrupt = image.error().code() == ErrorCode::kCorrupt;
    if (!corrupt) {
      std::fprintf(stderr, "ferry image check: %s\n", problem.c_str());
      return 1;
    }
  }
  if (Result<ImageFile> f = ImageFile::Open(path, false); f.ok()) {
    end = f->Size().ok() ? *f->Size() : 0;
  }
  if (json) {
    std::printf(
        "{\n    \"image-end-offset\": %llu,\n    \"check-errors\": 0,\n"
        "    \"corruptions\": %d,\n    \"filename\": %s,\n    \"format\": \"%s\"\n}\n",
        (unsigned long long)end, corrupt ? 1 : 0, JsonQuote(path).c_str(), FormatName(format));
  } else if (!quiet) {
    if (corrupt) {
      std::printf(
          "ERROR: %s\n\n1 errors were found on the image.\n"
          "Data may be corrupted, or further writes to the image may corrupt it.\n",
          problem.c_str());
    } else {
      std::printf("No errors were found on the image.\n");
    }
    std::printf("Image end offset: %llu\n", (unsigned long long)end);
  }
  return corrupt ? 2 : 0;
}

}  // namespace

Result<int> CmdCheck(int argc, char** argv) {
  ArgSpec spec{{"-f", "--output", "-r"}, {"-q"}, {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  RETURN_IF_ERROR(
      ExpectOperands(args, 1, 1, "ferry image check [-f FMT] [-r leaks|all] [--output=json] FILE"));
  std::optional<qcow2::RepairMode> repair;
  if (auto r = args.Get("-r")) {
    if (*r == "leaks") {
      repair = qcow2::RepairMode::kLeaks;
    } else if (*r == "all") {
      repair = qcow2::RepairMode::kAll;
    } else {
      return Error(ErrorCode::kInvalidArgument, "-r takes leaks or all");
    }
  }
  ASSIGN_OR_RETURN(bool json, JsonOutput(args));
  const std::string& path = args.operands()[0];
  Format format;
  if (auto f = args.Get("-f")) {
    ASSIGN_OR_RETURN(format, ParseFormat(*f));
  } else {
    ASSIGN_OR_RETURN(format, ProbeFormat(path));
  }
  if (format == Format::kRaw) {
    std::fprintf(stderr, "ferry image check: %s: this image format (%s) does not support checks\n",
                 path.c_str(), FormatName(format));
    return 63;
  }
  if (format != Format::kQcow2) {
    if (repair) {
      return Error(ErrorCode::kUnimplemented, std::string("-r repairs qcow2 images only; ") +
                                                  FormatName(format) +
                                                  " images are checked, not repaired");
    }
    return CheckStructure(path, format, json, args.Has("-q"));
  }
  if (repair) {
    ASSIGN_OR_RETURN(qcow2::CheckReport before, qcow2::Check(path));
    if (!json && !args.Has("-q")) {
      for (const std::string& m : before.messages) std::printf("%s\n", m.c_str());
    }
    ASSIGN_OR_RETURN(qcow2::RepairResult fixed, qcow2::Repair(path, *repair));
    if (!json && !args.Has("-q") && (fixed.leaks_fixed || fixed.corruptions_fixed)) {
      std::printf(
          "The following inconsistencies were found and repaired:\n\n"
          "    %llu leaked clusters\n    %llu corruptions\n\n"
          "Double checking the fixed image now...\n",
          (unsigned long long)fixed.leaks_fixed, (unsigned long long)fixed.corruptions_fixed);
    }
  }
  ASSIGN_OR_RETURN(qcow2::CheckReport report, qcow2::Check(path));
  if (json) {
    PrintJson(path, report);
  } else if (!args.Has("-q")) {
    PrintHuman(report);
  }
  if (report.corruptions) return 2;
  if (report.leaks) return 3;
  return 0;
}

}  // namespace ferry::image
