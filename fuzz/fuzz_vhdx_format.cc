// The VHDX structure parsers on raw buffers: header, region table, metadata
// table and log search, without the 1 MiB file a whole image needs.
#include <algorithm>
#include <vector>

#include "image/vhdx_format.h"
#include "image/vhdx_log.h"

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
  // The log: the input as a log region (whole 4 KiB sectors), its first
  // bytes as the header's log GUID, so that entries can match it.
  Guid guid{};
  if (size >= 48) std::copy_n(data + 32, 16, guid.begin());
  auto log = LogOverlay::Replay(in.subspan(0, size / 4096 * 4096), guid, uint64_t(1) << 30);
  if (log.ok() && !log->empty()) {
    std::vector<uint8_t> probe(8192);
    log->Apply(0, probe);
  }
  return 0;
}
