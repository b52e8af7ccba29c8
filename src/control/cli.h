// Branch-local stub (image branch), drop on merge: the lead owns the real CLI.
#pragma once

namespace ferry {
int RunCli(int argc, char** argv);
}  // namespace ferry
