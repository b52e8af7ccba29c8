#include "image/command_util.h"

#include <cstdio>
#include <cstdlib>

#include "base/units.h"

namespace ferry::image {

Result<std::unique_ptr<ImageReader>> OpenFromArgs(const Args& args, const std::string& flag,
                                                  const std::string& path) {
  OpenOptions options;
  if (auto f = args.Get(flag)) {
    ASSIGN_OR_RETURN(options.format, ParseFormat(*f));
  }
  return OpenImage(path, options);
}

Status ExpectOperands(const Args& args, size_t min, size_t max, const char* usage) {
  size_t n = args.operands().size();
  if (n < min || n > max) return Error(ErrorCode::kInvalidArgument, std::string("usage: ") + usage);
  return OkStatus();
}

Result<bool> JsonOutput(const Args& args) {
  auto out = args.Get("--output");
  if (!out || *out == "human") return false;
  if (*out == "json") return true;
  return Error(ErrorCode::kInvalidArgument, "--output must be human or json");
}

std::string SizeWithBytes(uint64_t bytes) {
  return FormatSize(bytes) + " (" + std::to_string(bytes) + " bytes)";
}

void PrintCopyProgress(const CopyProgress& p) {
  double pct = p.total ? 100.0 * double(p.done) / double(p.total) : 100.0;
  double rate = p.seconds > 0 ? double(p.done) / p.seconds : 0;
  std::string eta = "--:--";
  if (rate > 0 && p.done < p.total) {
    uint64_t s = uint64_t(double(p.total - p.done) / rate);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%llu:%02llu", (unsigned long long)(s / 60),
                  (unsigned long long)(s % 60));
    eta = buf;
  } else if (p.done >= p.total) {
    eta = "0:00";
  }
  std::fprintf(stderr, "\r    (%6.2f/100%%) %s/s ETA %s   ", pct,
               FormatSize(uint64_t(rate)).c_str(), eta.c_str());
  if (p.done >= p.total) std::fprintf(stderr, "\n");
}

Result<double> CheckpointInterval(const Args& args) {
  auto text = args.Get("--checkpoint-interval");
  if (!text) return 5.0;
  char* end = nullptr;
  double interval = std::strtod(text->c_str(), &end);
  if (end == text->c_str() || *end || !(interval > 0)) {
    return Error(ErrorCode::kInvalidArgument, "--checkpoint-interval takes seconds (> 0)");
  }
  return interval;
}

}  // namespace ferry::image
