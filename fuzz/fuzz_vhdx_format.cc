// The VHDX structure parsers on raw buffers: header, region table, metadata
// table and log search, without the 1 MiB file a whole image needs.
#include <algorithm>
#include <vector>

#include "image/vhdx_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::image::vhdx;
  std::span<const uint8_t> in(data, size);
  std::vector<uint8_t> buf(kRegionTableSize, 0);  // tables are fixed-size
  std::copy_n(data, std::min(size, buf.size()), buf.begin());
  (void)PickHeader(ParseHeader(buf), ParseHeader(in));
  (void)ParseRegionTable(buf, uint64_t(1) << 40);
  auto items = ParseMetadataTable(buf, uint32_t(1) << 20);
  if (items.ok()) {
    Metadata m;
    for (const MetadataItem& item : *items) (void)ParseMetadataItem(item, in, m);
    if (ValidateMetadata(m, true, true, true).ok()) (void)BatEntries(m);
  }
  Guid guid{};
  if (size >= 16) std::copy_n(data, 16, guid.begin());
  (void)LogHasEntries(in, guid);
  return 0;
}
