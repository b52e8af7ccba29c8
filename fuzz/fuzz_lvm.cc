// LVM2 physical volumes (label, PV header, metadata area, metadata text) on
// hostile bytes, as the guest fix-ups read them inside a partition; and the
// metadata text grammar on its own.
#include <cstring>
#include <string_view>

#include "image/lvm.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto read = [&](uint64_t offset, std::span<uint8_t> out) -> ferry::Status {
    if (offset > size || out.size() > size - offset) {
      return ferry::Error(ferry::ErrorCode::kCorrupt, "past the end");
    }
    std::memcpy(out.data(), data + offset, out.size());
    return ferry::OkStatus();
  };
  (void)ferry::image::ReadLvmPhysicalVolume(size, read);
  (void)ferry::image::ParseLvmConfig(
      std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
