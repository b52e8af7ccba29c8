#include "base/result.h"

#include <cerrno>
#include <cstring>

namespace ferry {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kPermissionDenied:
      return "permission denied";
    case ErrorCode::kResourceExhausted:
      return "resource exhausted";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kFailedPrecondition:
      return "failed precondition";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kUnimplemented:
      return "unimplemented";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

static ErrorCode CodeForErrno(int err) {
  switch (err) {
    case ENOENT:
      return ErrorCode::kNotFound;
    case EACCES:
    case EPERM:
      return ErrorCode::kPermissionDenied;
    case ENOMEM:
    case ENOSPC:
      return ErrorCode::kResourceExhausted;
    case EAGAIN:
    case EINTR:
    case ECONNREFUSED:
    case ECONNRESET:
    case ETIMEDOUT:
      return ErrorCode::kUnavailable;
    case EINVAL:
      return ErrorCode::kInvalidArgument;
    case EADDRINUSE:
    case EEXIST:
    case EBUSY:
      return ErrorCode::kFailedPrecondition;
    default:
      return ErrorCode::kInternal;
  }
}

Error ErrnoError(const std::string& what, int err) {
  return Error(CodeForErrno(err), what + ": " + std::strerror(err));
}

Error ErrnoError(const std::string& what) {
  return ErrnoError(what, errno);
}

}  // namespace ferry
