#include "devices/console.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace ferry {
namespace {
constexpr size_t kMaxLine = 512;
}

Result<ConsoleSink> ConsoleSink::Open(const std::string& spec) {
  if (spec == "stdio") return ConsoleSink(STDOUT_FILENO, Fd());
  if (spec == "none") return ConsoleSink(-1, Fd());
  if (spec.rfind("file:", 0) == 0 && spec.size() > 5) {
    std::string path = spec.substr(5);
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd.valid()) return ErrnoError("cannot open console file " + path);
    int raw = fd.get();
    return ConsoleSink(raw, std::move(fd));
  }
  return Error(ErrorCode::kInvalidArgument,
               "--console '" + spec + "' is not one of stdio, file:PATH, none");
}

void ConsoleSink::Put(uint8_t byte) {
  if (fd_ < 0) return;
  line_.push_back(byte);
  if (byte == '\n' || line_.size() >= kMaxLine) Flush();
}

void ConsoleSink::Flush() {
  size_t done = 0;
  while (fd_ >= 0 && done < line_.size()) {
    ssize_t n = ::write(fd_, line_.data() + done, line_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a closed pipe must not stop the guest
    done += static_cast<size_t>(n);
  }
  line_.clear();
}

}  // namespace ferry
