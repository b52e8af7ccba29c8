// `ferry image compare`: are two images' guest-visible contents equal?
// Ranges that both maps call zero are not read.
#include <cstdio>
#include <cstring>
#include <vector>

#include "image/command_util.h"
#include "image/commands.h"
#include "image/convert.h"

namespace ferry::image {
namespace {

constexpr uint64_t kChunk = 2 << 20;

// The first offset in [start, end) where the images differ, or `end`.
Result<uint64_t> FirstDifference(ImageReader& a, ImageReader& b, uint64_t start, uint64_t end) {
  std::vector<uint8_t> ba(kChunk), bb(kChunk);
  for (uint64_t pos = start; pos < end;) {
    ASSIGN_OR_RETURN(Extent ea, a.Map(pos, std::min(kChunk, end - pos)));
    ASSIGN_OR_RETURN(Extent eb, b.Map(pos, ea.length));
    uint64_t n = std::min(ea.length, eb.length);
    if (!(ea.zero && eb.zero)) {
      RETURN_IF_ERROR(a.Read(pos, {ba.data(), n}));
      RETURN_IF_ERROR(b.Read(pos, {bb.data(), n}));
      if (std::memcmp(ba.data(), bb.data(), n) != 0) {
        uint64_t i = 0;
        while (ba[i] == bb[i]) ++i;
        return pos + i;
      }
    }
    pos += n;
  }
  return end;
}

// The first non-zero byte of `img` in [start, end), or `end`.
Result<uint64_t> FirstNonZero(ImageReader& img, uint64_t start, uint64_t end) {
  std::vector<uint8_t> buf(kChunk);
  for (uint64_t pos = start; pos < end;) {
    ASSIGN_OR_RETURN(Extent e, img.Map(pos, std::min(kChunk, end - pos)));
    if (!e.zero) {
      RETURN_IF_ERROR(img.Read(pos, {buf.data(), e.length}));
      if (!IsZero(buf.data(), e.length)) {
        uint64_t i = 0;
        while (buf[i] == 0) ++i;
        return pos + i;
      }
    }
    pos += e.length;
  }
  return end;
}

}  // namespace

Result<int> CmdCompare(int argc, char** argv) {
  ArgSpec spec{{"-f", "-F"}, {"-s", "-p", "-q"}, {}};
  ASSIGN_OR_RETURN(Args args, Args::Parse(argc, argv, spec));
  RETURN_IF_ERROR(ExpectOperands(args, 2, 2, "ferry image compare [-f FMT] [-F FMT] [-s] A B"));
  ASSIGN_OR_RETURN(auto a, OpenFromArgs(args, "-f", args.operands()[0]));
  ASSIGN_OR_RETURN(auto b, OpenFromArgs(args, "-F", args.operands()[1]));
  const bool quiet = args.Has("-q");
  const uint64_t common = std::min(a->virtual_size(), b->virtual_size());
  if (args.Has("-s") && a->virtual_size() != b->virtual_size()) {
    if (!quiet) std::printf("Strict mode: Image size mismatch!\n");
    return 1;
  }
  ASSIGN_OR_RETURN(uint64_t diff, FirstDifference(*a, *b, 0, common));
  if (diff == common) {
    // The longer image must read as zeros past the shorter one's end.
    ImageReader& longer = a->virtual_size() > common ? *a : *b;
    ASSIGN_OR_RETURN(diff, FirstNonZero(longer, common, longer.virtual_size()));
    if (diff == longer.virtual_size()) {
      if (!quiet) std::printf("Images are identical.\n");
      return 0;
    }
  }
  if (!quiet) std::printf("Content mismatch at offset %llu!\n", (unsigned long long)diff);
  return 1;
}

}  // namespace ferry::image
