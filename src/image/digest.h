// SHA-1 and SHA-256 (through OpenSSL's libcrypto), for OVA manifests.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "base/result.h"

namespace ferry::image {

enum class DigestKind { kSha1, kSha256 };

class Digest {
 public:
  static Result<Digest> Start(DigestKind kind);
  void Update(std::span<const uint8_t> data);
  std::string FinishHex();  // lower-case hex

 private:
  struct Free {
    void operator()(void* ctx) const;
  };
  std::unique_ptr<void, Free> ctx_;
};

}  // namespace ferry::image
