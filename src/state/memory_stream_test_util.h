// An in-memory byte stream for tests of the format and page batches.
#pragma once

#include <cstring>
#include <vector>

#include "state/stream.h"

namespace ferry::state {

class MemoryStream final : public ByteSink, public ByteSource {
 public:
  MemoryStream() = default;
  explicit MemoryStream(std::vector<uint8_t> initial) : bytes(std::move(initial)) {}

  Status WriteGather(std::span<const iovec> pieces) override {
    for (const iovec& p : pieces) {
      auto* b = static_cast<const uint8_t*>(p.iov_base);
      bytes.insert(bytes.end(), b, b + p.iov_len);
    }
    return OkStatus();
  }
  Status ReadExact(std::span<uint8_t> out) override {
    if (out.size() > bytes.size() - pos) return Error(ErrorCode::kCorrupt, "truncated");
    if (!out.empty()) std::memcpy(out.data(), bytes.data() + pos, out.size());
    pos += out.size();
    return OkStatus();
  }

  std::vector<uint8_t> bytes;
  size_t pos = 0;
};

}  // namespace ferry::state
