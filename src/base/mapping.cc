#include "base/mapping.h"

#include <sys/mman.h>

namespace ferry {

Result<Mapping> Mapping::Anonymous(size_t size) {
  void* addr = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (addr == MAP_FAILED) return ErrnoError("mmap of " + std::to_string(size) + " bytes");
  return Mapping(addr, size);
}

Result<Mapping> Mapping::File(int fd, size_t size, off_t offset, int prot, int flags) {
  void* addr = ::mmap(nullptr, size, prot, flags, fd, offset);
  if (addr == MAP_FAILED) return ErrnoError("mmap");
  return Mapping(addr, size);
}

void Mapping::Reset() {
  if (addr_ != nullptr) ::munmap(addr_, size_);
  addr_ = nullptr;
  size_ = 0;
}

}  // namespace ferry
