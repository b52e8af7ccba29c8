// The guest fix-up parsers on hostile bytes: the first byte picks the
// partition table reader (on a disk made of the input), the device name
// rewriter, or the initramfs scanner.
#include <algorithm>
#include <cstring>
#include <string>

#include "image/device_names.h"
#include "image/initramfs_scan.h"
#include "image/partitions.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry::image;
  if (size < 1) return 0;
  const uint8_t* in = data + 1;
  const size_t n = size - 1;
  switch (data[0] % 3) {
    case 0: {
      // The input is the first sectors of a disk ten times as large (so that
      // entries may point past the bytes given but inside the disk).
      const uint64_t disk_size = uint64_t(n) * 10 + (1 << 20);
      auto read = [&](uint64_t lba, std::span<uint8_t> out) -> ferry::Status {
        std::memset(out.data(), 0, out.size());
        if (lba * 512 < n)
          std::memcpy(out.data(), in + lba * 512, std::min<size_t>(out.size(), n - lba * 512));
        return ferry::OkStatus();
      };
      (void)ParsePartitions(disk_size, read);
      break;
    }
    case 1: {
      UuidFor uuid = [](int disk, int part) -> std::optional<std::string> {
        if ((disk + part) % 2) return "UUID=x";
        return std::nullopt;
      };
      (void)RewriteDeviceNames(std::string(reinterpret_cast<const char*>(in), n), uuid);
      break;
    }
    case 2:
      (void)ScanInitramfs(std::string(reinterpret_cast<const char*>(in), n), "virtio_blk",
                          16 << 20);
      break;
  }
  return 0;
}
