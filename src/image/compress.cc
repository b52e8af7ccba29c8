#include "image/compress.h"

#include <zlib.h>
#include <zstd.h>

#include <memory>

namespace ferry::image {
namespace {

int WindowBits(Codec codec) {
  return codec == Codec::kDeflateRaw ? -12 : 15;
}

Status Inflate(Codec codec, std::span<const uint8_t> in, std::span<uint8_t> out) {
  z_stream s{};
  if (inflateInit2(&s, WindowBits(codec)) != Z_OK) {
    return Error(ErrorCode::kResourceExhausted, "inflateInit2 failed");
  }
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = uInt(in.size());
  s.next_out = out.data();
  s.avail_out = uInt(out.size());
  int ret = inflate(&s, Z_FINISH);
  size_t produced = out.size() - s.avail_out;
  inflateEnd(&s);
  // Z_BUF_ERROR with a full output means the stream goes on past what we
  // need or was padded: both fine, as for qemu.
  if ((ret == Z_STREAM_END || ret == Z_BUF_ERROR) && produced == out.size()) return OkStatus();
  return Error(ErrorCode::kCorrupt, "compressed data does not inflate to " +
                                        std::to_string(out.size()) + " bytes (got " +
                                        std::to_string(produced) + ")");
}

Status Unzstd(std::span<const uint8_t> in, std::span<uint8_t> out) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return Error(ErrorCode::kResourceExhausted, "ZSTD_createDCtx failed");
  ZSTD_inBuffer ib{in.data(), in.size(), 0};
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  // Streaming, as qemu does: the input is rounded up to sectors, so it may
  // end with bytes that are not part of the frame.
  while (ob.pos < ob.size) {
    size_t ret = ZSTD_decompressStream(ctx.get(), &ob, &ib);
    if (ZSTD_isError(ret)) {
      return Error(ErrorCode::kCorrupt,
                   std::string("zstd compressed data is damaged: ") + ZSTD_getErrorName(ret));
    }
    if (ret == 0 || ib.pos == ib.size) break;
  }
  if (ob.pos != ob.size) {
    return Error(ErrorCode::kCorrupt, "zstd compressed data yields " + std::to_string(ob.pos) +
                                          " bytes, not " + std::to_string(out.size()));
  }
  return OkStatus();
}

Result<std::vector<uint8_t>> Deflate(Codec codec, std::span<const uint8_t> in, size_t limit) {
  z_stream s{};
  if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, WindowBits(codec), 9,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return Error(ErrorCode::kResourceExhausted, "deflateInit2 failed");
  }
  std::vector<uint8_t> out(limit);
  s.next_in = const_cast<Bytef*>(in.data());
  s.avail_in = uInt(in.size());
  s.next_out = out.data();
  s.avail_out = uInt(out.size());
  int ret = deflate(&s, Z_FINISH);
  size_t produced = out.size() - s.avail_out;
  deflateEnd(&s);
  if (ret != Z_STREAM_END) return std::vector<uint8_t>();  // did not fit in `limit`
  out.resize(produced);
  return out;
}

Result<std::vector<uint8_t>> Zstd(std::span<const uint8_t> in, size_t limit) {
  std::vector<uint8_t> out(limit);
  size_t ret = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), ZSTD_CLEVEL_DEFAULT);
  if (ZSTD_isError(ret)) return std::vector<uint8_t>();
  out.resize(ret);
  return out;
}

}  // namespace

Status Decompress(Codec codec, std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (codec == Codec::kZstd) return Unzstd(in, out);
  return Inflate(codec, in, out);
}

Result<std::vector<uint8_t>> Compress(Codec codec, std::span<const uint8_t> in, size_t limit) {
  if (codec == Codec::kZstd) return Zstd(in, limit);
  return Deflate(codec, in, limit);
}

}  // namespace ferry::image
