#include "vm/vm_state.h"

namespace ferry {

const char* VmStateName(VmState state) {
  switch (state) {
    case VmState::kCreated:
      return "created";
    case VmState::kRunning:
      return "running";
    case VmState::kPaused:
      return "paused";
    case VmState::kStopped:
      return "stopped";
  }
  return "unknown";
}

Status CheckTransition(VmState from, VmState to) {
  bool valid = false;
  switch (from) {
    case VmState::kCreated:
      valid = to == VmState::kRunning || to == VmState::kStopped;
      break;
    case VmState::kRunning:
      valid = to == VmState::kPaused || to == VmState::kStopped;
      break;
    case VmState::kPaused:
      valid = to == VmState::kRunning || to == VmState::kStopped;
      break;
    case VmState::kStopped:
      valid = false;
      break;
  }
  if (valid) return OkStatus();
  return Error(ErrorCode::kFailedPrecondition, std::string("the VM is ") + VmStateName(from) +
                                                   ", it cannot become " + VmStateName(to));
}

}  // namespace ferry
