#include "rt/virtio.h"

#include "rt/format.h"

namespace guest::virtio {

const char* type_name(uint32_t type, char (&buf)[16]) {
  switch (type) {
    case kTypeNet:
      return "virtio-net";
    case kTypeBlock:
      return "virtio-blk";
    case kTypeRng:
      return "virtio-rng";
    default:
      snformat(buf, sizeof(buf), "virtio-%u", type);
      return buf;
  }
}

uint64_t Transport::config64(uint32_t offset) {
  for (;;) {
    uint8_t before = config_generation();
    uint64_t low = config32(offset);
    uint64_t high = config32(offset + 4);
    if (config_generation() == before) return high << 32 | low;
  }
}

}  // namespace guest::virtio
