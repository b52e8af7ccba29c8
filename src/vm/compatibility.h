// Can this host run a guest that was started elsewhere? Checked before any
// memory is loaded or received.
#pragma once

#include <linux/kvm.h>

#include <vector>

#include "base/result.h"
#include "state/machine_state.h"

namespace ferry {

// Fails listing every CPU feature the guest has and this host's KVM cannot
// offer, and when the machine's size is beyond what this host allows.
Status CheckHostCanRun(const state::MachineConfig& config);

}  // namespace ferry
