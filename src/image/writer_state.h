// Little-endian packing for the writer states that convert checkpoints carry
// (ImageWriter::SaveState). The reader treats its input as hostile: reading
// past the end yields zeros and marks the reader short, so that callers check
// once at the end of a group of fields instead of after every one.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ferry::image {

class StatePacker {
 public:
  void Put(uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(uint8_t(value >> (8 * i)));
  }
  void PutBytes(std::span<const uint8_t> bytes) {
    out_.insert(out_.end(), bytes.begin(), bytes.end());
  }
  std::vector<uint8_t> Take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

class StateUnpacker {
 public:
  explicit StateUnpacker(std::span<const uint8_t> in) : in_(in) {}

  uint64_t Get(int bytes) {
    if (remaining() < size_t(bytes)) {
      short_ = true;
      at_ = in_.size();
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(in_[at_ + i]) << (8 * i);
    at_ += bytes;
    return v;
  }
  void GetBytes(std::span<uint8_t> out) {
    if (remaining() < out.size()) {
      short_ = true;
      at_ = in_.size();
      return;
    }
    for (size_t i = 0; i < out.size(); ++i) out[i] = in_[at_ + i];
    at_ += out.size();
  }
  size_t remaining() const { return in_.size() - at_; }
  bool short_input() const { return short_; }
  // Every byte consumed and none missing.
  bool complete() const { return !short_ && at_ == in_.size(); }

 private:
  std::span<const uint8_t> in_;
  size_t at_ = 0;
  bool short_ = false;
};

}  // namespace ferry::image
