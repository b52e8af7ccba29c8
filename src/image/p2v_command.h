// `ferry p2v` (a physical disk into an image) and `ferry v2p` (an image
// onto a physical disk). See docs/import.md.
#pragma once

namespace ferry {

int RunP2vCommand(int argc, char** argv);
int RunV2pCommand(int argc, char** argv);

}  // namespace ferry
