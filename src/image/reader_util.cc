#include "image/reader_util.h"

#include <algorithm>
#include <cstring>

namespace ferry::image {

Status ReadUnallocated(ImageReader* backing, uint64_t offset, std::span<uint8_t> out) {
  uint64_t from_backing = 0;
  if (backing != nullptr && offset < backing->virtual_size()) {
    from_backing = std::min<uint64_t>(out.size(), backing->virtual_size() - offset);
    RETURN_IF_ERROR(backing->Read(offset, out.subspan(0, from_backing)));
  }
  std::memset(out.data() + from_backing, 0, out.size() - from_backing);
  return OkStatus();
}

Status ReadByExtents(ImageReader& reader, const ImageFile& file, uint64_t offset,
                     std::span<uint8_t> out, const char* what) {
  uint64_t size = reader.virtual_size();
  if (offset > size || out.size() > size - offset) {
    return Error(ErrorCode::kInvalidArgument, "read past the end of the virtual disk");
  }
  while (!out.empty()) {
    ASSIGN_OR_RETURN(Extent e, reader.Map(offset, out.size()));
    if (e.data) {
      RETURN_IF_ERROR(file.ReadAt(*e.host_offset, out.subspan(0, e.length), what));
    } else {
      std::memset(out.data(), 0, e.length);
    }
    offset += e.length;
    out = out.subspan(e.length);
  }
  return OkStatus();
}

Result<Extent> MapFromParent(ImageReader* parent, Extent e) {
  if (parent && e.start < parent->virtual_size()) {
    ASSIGN_OR_RETURN(Extent p,
                     parent->Map(e.start, std::min(e.length, parent->virtual_size() - e.start)));
    p.depth += 1;
    return p;
  }
  e.data = e.present = false;
  e.zero = true;
  e.depth = 1;
  e.host_offset.reset();
  return e;
}

Status ReadLayered(ImageReader& reader, ImageReader* parent, const OwnRead& read_own,
                   uint64_t offset, std::span<uint8_t> out) {
  const uint64_t size = reader.virtual_size();
  if (offset > size || out.size() > size - offset) {
    return Error(ErrorCode::kInvalidArgument, "read past the end of the virtual disk");
  }
  while (!out.empty()) {
    ASSIGN_OR_RETURN(Extent e, reader.Map(offset, out.size()));
    std::span<uint8_t> part = out.subspan(0, e.length);
    if (e.depth == 0 && e.data) {
      RETURN_IF_ERROR(read_own(*e.host_offset, part));
    } else if (e.depth == 0) {
      std::memset(part.data(), 0, part.size());
    } else {
      RETURN_IF_ERROR(ReadUnallocated(parent, offset, part));
    }
    offset += e.length;
    out = out.subspan(e.length);
  }
  return OkStatus();
}

}  // namespace ferry::image
