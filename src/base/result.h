// Errors as values: every fallible function returns Result<T> (or Status for
// Result<void>). The ErrorCode says what the caller should do about it.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace ferry {

enum class ErrorCode {
  kInvalidArgument,     // fix the input and try again
  kNotFound,            // a named thing does not exist
  kPermissionDenied,    // fix permissions
  kResourceExhausted,   // not enough memory/space on this host
  kUnavailable,         // transient: retrying may succeed
  kFailedPrecondition,  // the system is not in a state that allows this
  kCorrupt,             // input data is damaged or not what it claims to be
  kUnimplemented,       // ferry does not do this (yet)
  kInternal,            // a bug or an unexpected kernel answer
};

const char* ErrorCodeName(ErrorCode code);

class [[nodiscard]] Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with what the caller was doing: "loading kernel: open foo: ENOENT".
  Error WithContext(const std::string& context) && {
    message_ = context + ": " + message_;
    return std::move(*this);
  }

 private:
  ErrorCode code_;
  std::string message_;
};

// Builds an Error from errno after a failed system call.
Error ErrnoError(const std::string& what, int err);
Error ErrnoError(const std::string& what);  // uses the current errno

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<T>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<Error>(state_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<Error>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    assert(!ok());
    return *error_;
  }
  Error&& error() && {
    assert(!ok());
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status OkStatus() {
  return {};
}

}  // namespace ferry

#define FERRY_CONCAT_INNER(a, b) a##b
#define FERRY_CONCAT(a, b) FERRY_CONCAT_INNER(a, b)

// Returns the error of a Result/Status expression from the enclosing function.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    auto ferry_status_ = (expr);               \
    if (!ferry_status_.ok()) {                 \
      return std::move(ferry_status_).error(); \
    }                                          \
  } while (0)

// Like RETURN_IF_ERROR, adding what the caller was doing to the message.
#define RETURN_IF_ERROR_CTX(expr, context)                          \
  do {                                                              \
    auto ferry_status_ = (expr);                                    \
    if (!ferry_status_.ok()) {                                      \
      return std::move(ferry_status_).error().WithContext(context); \
    }                                                               \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)   \
  auto tmp = (expr);                            \
  if (!tmp.ok()) return std::move(tmp).error(); \
  lhs = std::move(tmp).value()

// ASSIGN_OR_RETURN(auto x, MakeX()); declares x from the value or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(FERRY_CONCAT(ferry_result_, __LINE__), lhs, expr)
