// virtio-blk without a guest: ferry's VirtioBlock behind its real PCI
// transport and worker thread, driven by a polling driver in this process
// (devices/virtio/blk_ring_driver_test_util.h), beside plain pread/pwrite of
// the same sizes from the same memory. It tells how much of a guest's I/O
// rate the device path itself allows, on hosts with or without KVM.
//
//   build/src/ferry_blk_device_bench [--dir DIR] [--mib N] [--runs N]
//
// Each case starts on a fresh sparse file, as bench/virtio_blk.py does.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devices/virtio/blk_ring_driver_test_util.h"
#include "devices/virtio/block.h"
#include "devices/virtio/test_driver.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;
using T = VirtioPciTransport;
using testing::BlkCase;
using testing::BlkRingDriver;
using testing::RequestPlacement;

constexpr uint64_t kDiskBytes = 2ull << 30;

Status FreshImage(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("creating " + path);
  int rc = ::ftruncate(fd, static_cast<off_t>(kDiskBytes));
  ::close(fd);
  if (rc != 0) return ErrnoError("sizing " + path);
  return OkStatus();
}

// Writes every block a read case will read, so reads hit data, not holes.
Status Prefill(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("opening " + path);
  std::vector<uint8_t> block(1 << 20, 0x5a);
  for (uint64_t at = 0; at < kDiskBytes; at += block.size()) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(at)) < 0) {
      ::close(fd);
      return ErrnoError("filling " + path);
    }
  }
  ::close(fd);
  return OkStatus();
}

Result<double> RunDevice(const std::string& path, GuestMemory& memory, const BlkCase& c,
                         uint64_t total) {
  ASSIGN_OR_RETURN(RawDisk disk, RawDisk::Open({path, false, ""}));
  VirtioBlock block(std::move(disk));
  testing::NoInterrupts irq;
  ASSIGN_OR_RETURN(std::unique_ptr<T> transport, T::Create(block, memory, irq, nullptr, 0, "blk"));
  transport->AssignBar(0, 0xc0000000);
  BlkRingDriver driver(memory, *transport, kDiskBytes);
  driver.Initialize();
  return driver.Run(c, total);
}

// The same requests as plain syscalls from the same memory, one at a time.
Result<double> RunSyscalls(const std::string& path, GuestMemory& memory, const BlkCase& c,
                           uint64_t total) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoError("opening " + path);
  uint8_t* buffer = *memory.Translate(BlkRingDriver::kDataArea, c.request_bytes);
  uint64_t requests = total / c.request_bytes;
  RequestPlacement placement(c, kDiskBytes / c.request_bytes);
  auto start = Clock::now();
  for (uint64_t i = 0; i < requests; ++i) {
    off_t at = static_cast<off_t>(placement.Next() * c.request_bytes);
    ssize_t n = c.type == virtio_blk::kTypeIn ? ::pread(fd, buffer, c.request_bytes, at)
                                              : ::pwrite(fd, buffer, c.request_bytes, at);
    if (n != static_cast<ssize_t>(c.request_bytes)) {
      ::close(fd);
      return ErrnoError("I/O on " + path);
    }
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  return static_cast<double>(requests * c.request_bytes) / seconds;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string Rate(const BlkCase& c, double bytes_per_s) {
  char text[64];
  if (c.request_bytes >= (1u << 20)) {
    std::snprintf(text, sizeof text, "%.0f MiB/s", bytes_per_s / (1 << 20));
  } else {
    std::snprintf(text, sizeof text, "%.0f IOPS", bytes_per_s / c.request_bytes);
  }
  return text;
}

int Main(int argc, char** argv) {
  std::string dir = "/var/tmp";
  uint64_t mib = 512;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--dir") dir = argv[i + 1];
    if (flag == "--mib") mib = std::stoull(argv[i + 1]);
    if (flag == "--runs") runs = std::stoi(argv[i + 1]);
  }
  const BlkCase cases[] = {
      {"seqwrite 1 MiB", virtio_blk::kTypeOut, 1 << 20, 1, true},
      {"seqwrite 1 MiB", virtio_blk::kTypeOut, 1 << 20, 32, true},
      {"seqread 1 MiB", virtio_blk::kTypeIn, 1 << 20, 1, true},
      {"seqread 1 MiB", virtio_blk::kTypeIn, 1 << 20, 32, true},
      {"randwrite 4 KiB", virtio_blk::kTypeOut, 4096, 1, false},
      {"randwrite 4 KiB", virtio_blk::kTypeOut, 4096, 32, false},
      {"randread 4 KiB", virtio_blk::kTypeIn, 4096, 1, false},
      {"randread 4 KiB", virtio_blk::kTypeIn, 4096, 32, false},
  };
  Result<GuestMemory> memory = GuestMemory::Create(64ull << 20);
  if (!memory.ok()) {
    std::fprintf(stderr, "%s\n", memory.error().message().c_str());
    return 1;
  }
  std::string path = dir + "/ferry-blk-device-bench.img";
  std::printf(
      "virtio-blk device path without a guest (`ferry_blk_device_bench --mib %lu --runs %d`), "
      "2 GiB sparse file in %s; medians of %d runs\n\n",
      static_cast<unsigned long>(mib), runs, dir.c_str(), runs);
  std::printf(
      "| test | qd | device (transport + worker) | syscalls, one at a time | device / syscalls "
      "|\n");
  std::printf("|---|---|---|---|---|\n");
  for (const BlkCase& c : cases) {
    uint64_t total =
        c.request_bytes >= (1u << 20) ? mib << 20 : std::min<uint64_t>(mib << 20, 64 << 20);
    std::vector<double> device, syscalls;
    for (int r = 0; r < runs; ++r) {
      for (int which = 0; which < 2; ++which) {
        Status fresh = FreshImage(path);
        if (fresh.ok() && c.type == virtio_blk::kTypeIn) fresh = Prefill(path);
        if (!fresh.ok()) {
          std::fprintf(stderr, "%s\n", fresh.error().message().c_str());
          return 1;
        }
        Result<double> rate =
            which == 0 ? RunDevice(path, *memory, c, total) : RunSyscalls(path, *memory, c, total);
        if (!rate.ok()) {
          std::fprintf(stderr, "%s\n", rate.error().message().c_str());
          return 1;
        }
        (which == 0 ? device : syscalls).push_back(*rate);
      }
    }
    std::printf("| %s | %u | %s | %s | %.2f |\n", c.name, c.depth, Rate(c, Median(device)).c_str(),
                Rate(c, Median(syscalls)).c_str(), Median(device) / Median(syscalls));
  }
  ::unlink(path.c_str());
  return 0;
}

}  // namespace
}  // namespace ferry

int main(int argc, char** argv) {
  return ferry::Main(argc, argv);
}
