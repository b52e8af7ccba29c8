// Small helpers the subcommands share.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "image/args.h"
#include "image/convert.h"
#include "image/image.h"

namespace ferry::image {

// Opens `path` with the format named by option `flag` (e.g. "-f"), or probes.
Result<std::unique_ptr<ImageReader>> OpenFromArgs(const Args& args, const std::string& flag,
                                                  const std::string& path);
// Exactly `n` operands, or an error naming what `usage` expects.
Status ExpectOperands(const Args& args, size_t min, size_t max, const char* usage);
// "--output=human|json": true for json.
Result<bool> JsonOutput(const Args& args);
// "--checkpoint-interval SECONDS" (default 5).
Result<double> CheckpointInterval(const Args& args);
// `-p`: percent, rate and ETA on stderr, rewritten in place.
void PrintCopyProgress(const CopyProgress& p);
// "64 MiB (67108864 bytes)".
std::string SizeWithBytes(uint64_t bytes);

}  // namespace ferry::image
