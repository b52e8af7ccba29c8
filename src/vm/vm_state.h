// The lifecycle of a VM as an explicit transition table: every request that
// does not fit the current state is refused with a message saying why.
#pragma once

#include <string>

#include "base/result.h"

namespace ferry {

enum class VmState { kCreated, kRunning, kPaused, kStopped };

const char* VmStateName(VmState state);

// OK when `from` may go to `to`; otherwise an error naming both states.
Status CheckTransition(VmState from, VmState to);

}  // namespace ferry
