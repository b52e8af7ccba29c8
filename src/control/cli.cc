// Branch-local stub (image branch), drop on merge: dispatches only `ferry image`.
#include "control/cli.h"

#include <cstdio>
#include <cstring>

#include "image/image_command.h"

namespace ferry {

int RunCli(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "image") == 0) return RunImageCommand(argc - 1, argv + 1);
  std::fprintf(stderr, "usage: ferry image ...   (branch-local stub CLI)\n");
  return 2;
}

}  // namespace ferry
