#include "image/digest.h"

#include <openssl/evp.h>

namespace ferry::image {

void Digest::Free::operator()(void* ctx) const {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx));
}

Result<Digest> Digest::Start(DigestKind kind) {
  Digest d;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  d.ctx_.reset(ctx);
  const EVP_MD* md = kind == DigestKind::kSha1 ? EVP_sha1() : EVP_sha256();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, md, nullptr) != 1) {
    return Error(ErrorCode::kInternal, "libcrypto: cannot start a digest");
  }
  return d;
}

void Digest::Update(std::span<const uint8_t> data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_.get()), data.data(), data.size());
}

std::string Digest::FinishHex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), md, &n);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace ferry::image
