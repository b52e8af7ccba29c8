// `ferry image info`: what the image is, after qemu-img info's layout.
#include <cstdio>

#include "base/units.h"
#include "image/command_util.h"
#include "image/commands.h"
#include "base/json.h"

namespace ferry::image {
namespace {

void PrintHuman(const ImageDetails& d) {
  std::printf("image: %s\n", d.path.c_str());
  std::printf("file format: %s\n", FormatName(d.format));
  std::printf("virtual size: %s\n", SizeWithBytes(d.virtual_size).c_str());
  std::printf("disk size: %s\n", FormatSize(d.disk_size).c_str());
  if (d.cluster_size) std::printf("cluster_size: %llu\n", (unsigned long long)*d.cluster_size);
  if (!d.backing_file.empty()) {
    std::printf("backing file: %s", d.backing_file.c_str());
    if (!d.backing_path.empty() && d.backing_path != d.backing_file) {
      std::printf(" (actual path: %s)", d.backing_path.c_str());
    }
    std::printf("\n");
    if (d.backing_format) std::printf("backing file format: %s\n", FormatName(*d.backing_format));
  }
  if (!d.specific.empty()) {
    std::printf("Format specific information:\n");
    for (const auto& [k, v] : d.specific) std::printf("    %s: %s\n", k.c_str(), v.c_str());
  }
}

std::string Json(const ImageDetails& d) {
  std::string s = "{\n    \"filename\": " + JsonQuote(d.path) +
                  ",\n    \"format\": " + JsonQuote(FormatName(d.format)) +
                  ",\n    \"virtual-size\": " + std::to_string(d.virtual_size) +
                  ",\n    \"actual-size\": " + std::to_string(d.disk_size);
  if (d.cluster_size) s += ",\n    \"cluster-size\": " + std::to_string(*d.cluster_size);
  if (!d.backing_file.empty()) {
    s += ",\n    \"backing-filename\": " + JsonQuote(d.backing_file);
    s += ",\n    \"full-backing-filename\": " + JsonQuote(d.backing_path);
    if (d.backing_format)
      s += ",\n    \"backing-filename-format\": " + JsonQuote(FormatName(*d.backing_format));
  }
  if (!d.specific.empty()) {
    s += ",\n    \"format-specific\": {";
    for (size_t i = 0; i < d.specific.size(); ++i) {
      s += (i ? ",\n        " : "\n        ") + JsonQuote(d.specific[i].first) + ": " +
           JsonQuote(d.specific[i].second);
    }
    s += "\n    }";
  }
  return s + "\n}";
}

}  // namespace

Result<int> CmdInfo(int argc, char** argv) {
  ArgSpec spec{{"-f", "--output"}, {"--backing-chain"}, {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  RETURN_IF_ERROR(ExpectOperands(args, 1, 1, "ferry image info [-f FMT] [--output=json] FILE"));
  ASSIGN_OR_RETURN(bool json, JsonOutput(args));
  ASSIGN_OR_RETURN(auto reader, OpenFromArgs(args, "-f", args.operands()[0]));
  std::vector<ImageDetails> chain;
  for (ImageReader* r = reader.get(); r; r = args.Has("--backing-chain") ? r->backing() : nullptr) {
    ASSIGN_OR_RETURN(ImageDetails d, r->Details());
    chain.push_back(std::move(d));
  }
  if (json) {
    bool list = args.Has("--backing-chain");
    std::string out = list ? "[" : "";
    for (size_t i = 0; i < chain.size(); ++i) out += (i ? ",\n" : "") + Json(chain[i]);
    std::printf("%s%s\n", out.c_str(), list ? "]" : "");
  } else {
    for (size_t i = 0; i < chain.size(); ++i) {
      if (i) std::printf("\n");
      PrintHuman(chain[i]);
    }
  }
  return 0;
}

}  // namespace ferry::image
