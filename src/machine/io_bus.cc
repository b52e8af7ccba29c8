#include "machine/io_bus.h"

#include <algorithm>
#include <cstdio>

namespace ferry {

Status IoBus::Register(uint64_t base, uint64_t length, IoDevice* device, std::string device_name) {
  if (length == 0 || base + length < base) {
    return Error(ErrorCode::kInvalidArgument,
                 name_ + ": empty or wrapping range for " + device_name);
  }
  for (const Range& r : ranges_) {
    if (base < r.base + r.length && r.base < base + length) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "%s: %s at 0x%llx overlaps %s", name_.c_str(),
                    device_name.c_str(), static_cast<unsigned long long>(base), r.name.c_str());
      return Error(ErrorCode::kInternal, buf);
    }
  }
  Range range{base, length, device, std::move(device_name)};
  auto at = std::lower_bound(ranges_.begin(), ranges_.end(), base,
                             [](const Range& r, uint64_t b) { return r.base < b; });
  ranges_.insert(at, std::move(range));
  return OkStatus();
}

const IoBus::Range* IoBus::Find(uint64_t address) const {
  auto after = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                                [](uint64_t a, const Range& r) { return a < r.base; });
  if (after == ranges_.begin()) return nullptr;
  const Range& candidate = *(after - 1);
  return address - candidate.base < candidate.length ? &candidate : nullptr;
}

bool IoBus::Read(uint64_t address, std::span<uint8_t> data) const {
  const Range* range = Find(address);
  if (range == nullptr) {
    std::fill(data.begin(), data.end(), 0xff);
    return false;
  }
  range->device->Read(address - range->base, data);
  return true;
}

bool IoBus::Write(uint64_t address, std::span<const uint8_t> data) const {
  const Range* range = Find(address);
  if (range == nullptr) return false;
  range->device->Write(address - range->base, data);
  return true;
}

}  // namespace ferry
