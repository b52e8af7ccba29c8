// One function per `ferry image` subcommand. argv[0] is the subcommand's
// name. Each returns the exit code (the meanings follow qemu-img's) or an
// error, which the caller prints as one line and turns into exit code 1
// (2 for compare).
#pragma once

#include "base/result.h"

namespace ferry::image {

Result<int> CmdInfo(int argc, char** argv);
Result<int> CmdCreate(int argc, char** argv);
Result<int> CmdConvert(int argc, char** argv);
Result<int> CmdCheck(int argc, char** argv);
Result<int> CmdCompare(int argc, char** argv);
Result<int> CmdMap(int argc, char** argv);
Result<int> CmdMeasure(int argc, char** argv);
Result<int> CmdResize(int argc, char** argv);

}  // namespace ferry::image
