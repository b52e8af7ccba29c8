// `ferry image ...`: the entry point the ferry CLI calls. argv[0] is "image".
// Returns the process exit code; prints its own messages.
#pragma once

namespace ferry {

int RunImageCommand(int argc, char** argv);

}  // namespace ferry
