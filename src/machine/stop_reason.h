// Why a VM stopped running, and the exit status `ferry run` reports for it.
#pragma once

#include <string>

namespace ferry {

struct StopReason {
  enum class Kind {
    kGuestExit,      // the guest wrote its status to the exit port
    kGuestReset,     // triple fault or a reset/shutdown request from the guest
    kUnhandledExit,  // KVM stopped for something ferry does not emulate
    kInternalError,  // KVM or ferry failed while running
    kRequested,      // `ferry stop` or a migration handing the VM over
    kSignal,         // SIGINT/SIGTERM to the VMM
  };
  Kind kind = Kind::kRequested;
  int value = 0;  // guest status or signal number
  std::string message;

  // 0..239: the guest's own status; 240 and up: ferry's (docs/exit-status.md).
  int ExitCode() const;
};

inline constexpr int kExitSetupFailed = 240;
inline constexpr int kExitGuestReset = 241;
inline constexpr int kExitUnhandled = 242;
inline constexpr int kExitInternal = 243;
inline constexpr int kMaxGuestStatus = 239;

inline int StopReason::ExitCode() const {
  switch (kind) {
    case Kind::kGuestExit:
      return value < 0 || value > kMaxGuestStatus ? kMaxGuestStatus : value;
    case Kind::kGuestReset:
      return kExitGuestReset;
    case Kind::kUnhandledExit:
      return kExitUnhandled;
    case Kind::kInternalError:
      return kExitInternal;
    case Kind::kRequested:
      return 0;
    case Kind::kSignal:
      return 128 + value;
  }
  return kExitInternal;
}

}  // namespace ferry
