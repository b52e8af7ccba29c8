#include "image/image_command.h"

#include <cstdio>
#include <cstring>

#include "image/commands.h"

namespace ferry {
namespace {

constexpr const char* kUsage =
    "usage: ferry image COMMAND [options]\n"
    "  info     [-f FMT] [--output=human|json] [--backing-chain] FILE\n"
    "  create   [-f FMT] [-o OPTS] [-b BACKING [-F FMT]] [--force] FILE [SIZE]\n"
    "  convert  [-f FMT] [-O FMT] [-o OPTS] [-c] [-p] [-S SIZE] [-m N] [-t writeback|unsafe]\n"
    "           [-n] [--target-is-zero] [--checkpoint-interval S] [--force] SRC DST\n"
    "  check    [-f FMT] [-r leaks|all] [--output=json] FILE  exit 0 clean, 2 corrupt, 3 leaks\n"
    "  compare  [-f FMT] [-F FMT] [-s] A B                 exit 0 equal, 1 different\n"
    "  map      [-f FMT] [--output=human|json] FILE\n"
    "  measure  [-O FMT] [-o OPTS] (--size SIZE | [-f FMT] FILE)\n"
    "  resize   [-f FMT] [--shrink] FILE [+|-]SIZE\n"
    "formats: raw, qcow2, vmdk, vpc (VHD), vhdx (read only); see docs/image.md\n";

struct Command {
  const char* name;
  Result<int> (*run)(int, char**);
  int error_exit;  // exit code when the command fails with an error
};

constexpr Command kCommands[] = {
    {"info", image::CmdInfo, 1},       {"create", image::CmdCreate, 1},
    {"convert", image::CmdConvert, 1}, {"check", image::CmdCheck, 1},
    {"compare", image::CmdCompare, 2}, {"map", image::CmdMap, 1},
    {"measure", image::CmdMeasure, 1}, {"resize", image::CmdResize, 1},
};

}  // namespace

int RunImageCommand(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    Result<int> result = c.run(argc - 1, argv + 1);
    if (result.ok()) return *result;
    std::fprintf(stderr, "ferry image %s: %s\n", c.name, result.error().message().c_str());
    return c.error_exit;
  }
  std::fprintf(stderr, "ferry image: unknown command '%s'\n%s", argv[1], kUsage);
  return 1;
}

}  // namespace ferry
