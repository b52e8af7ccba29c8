#pragma once

namespace ferry {

// Runs `ferry <command> ...` and returns the process exit status.
int RunCli(int argc, char** argv);

}  // namespace ferry
