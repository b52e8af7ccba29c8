// virtio-blk without a guest: ferry's VirtioBlock behind its real PCI
// transport and worker thread, driven by a polling driver in this process
// through a split ring in a GuestMemory, beside plain pread/pwrite of the same
// sizes from the same memory. It tells how much of a guest's I/O rate the
// device path itself allows, on hosts with or without KVM.
//
//   build/src/ferry_blk_device_bench [--dir DIR] [--mib N] [--runs N]
//
// Notifications take the MMIO path (an eventfd write per batch), where a
// guest's take an ioeventfd exit; completions are polled, as the guest kit
// polls. Each case starts on a fresh sparse file, as bench/virtio_blk.py does.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "devices/virtio/block.h"
#include "devices/virtio/test_driver.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_spec.h"

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;
using T = VirtioPciTransport;

constexpr uint64_t kDiskBytes = 2ull << 30;
constexpr uint16_t kQueueSize = 128;
constexpr uint64_t kDescAddr = 0x100000;
constexpr uint64_t kAvailAddr = kDescAddr + 16 * kQueueSize;
constexpr uint64_t kUsedAddr = 0x104000;
constexpr uint64_t kHeaderArea = 0x200000;  // 64 bytes per slot: header, then status
constexpr uint64_t kDataArea = 0x1000000;   // one request-sized buffer per slot
constexpr uint16_t kAvailNoInterrupt = 1;

struct Case {
  const char* name;
  uint32_t type;  // virtio_blk kTypeIn / kTypeOut
  uint32_t request_bytes;
  uint16_t depth;
  bool sequential;
};

// Which request-sized block of the disk the i-th request of a case goes to:
// in order, or spread by a fixed xorshift sequence (the same in every run).
class RequestPlacement {
 public:
  RequestPlacement(const Case& c, uint64_t span) : sequential_(c.sequential), span_(span) {}
  uint64_t Next() {
    uint64_t index = count_++ % span_;
    if (sequential_) return index;
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return state_ % span_;
  }

 private:
  bool sequential_;
  uint64_t span_;
  uint64_t count_ = 0;
  uint64_t state_ = 0x9e3779b97f4a7c15ull;
};

struct BlkHeader {
  uint32_t type;
  uint32_t reserved;
  uint64_t sector;
};

// A driver with `depth` fixed slots, each a three-descriptor chain.
class RingDriver {
 public:
  RingDriver(GuestMemory& memory, T& transport) : memory_(memory), transport_(transport) {}

  void Initialize() {
    // A new device sees a new ring: nothing of an earlier case's indices.
    std::memset(*memory_.Translate(kDescAddr, kUsedAddr + 0x1000 - kDescAddr), 0,
                kUsedAddr + 0x1000 - kDescAddr);
    Write8(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver);
    Write32(0x08, 0);
    Write32(0x0c, 0);
    Write32(0x08, 1);
    Write32(0x0c, 1);  // VERSION_1 (bit 32) only: every completion is polled
    Write8(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    Write16(0x16, 0);
    Write16(0x18, kQueueSize);
    Write64(0x20, kDescAddr);
    Write64(0x28, kAvailAddr);
    Write64(0x30, kUsedAddr);
    Write16(0x1c, 1);
    Write8(0x14, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk |
                     virtio::kStatusDriverOk);
    Put16(kAvailAddr, kAvailNoInterrupt);
    transport_.Resume();
  }

  // Runs one case over `total` bytes; returns bytes per second.
  Result<double> Run(const Case& c, uint64_t total) {
    uint64_t requests = total / c.request_bytes;
    uint64_t span_requests = kDiskBytes / c.request_bytes;
    uint64_t submitted = 0, completed = 0;
    RequestPlacement placement(c, span_requests);
    auto next_sector = [&]() -> uint64_t { return placement.Next() * c.request_bytes / 512; };
    auto submit = [&](uint16_t slot) {
      BlkHeader header{c.type, 0, next_sector()};
      Fill(kHeaderArea + 64u * slot, &header, sizeof header);
      uint16_t desc = static_cast<uint16_t>(slot * 3);
      uint64_t data = kDataArea + uint64_t{slot} * c.request_bytes;
      uint16_t data_flags = c.type == virtio_blk::kTypeIn ? virtio::kDescWrite : 0;
      SetDesc(desc, kHeaderArea + 64u * slot, sizeof header, virtio::kDescNext, desc + 1);
      SetDesc(desc + 1, data, c.request_bytes, data_flags | virtio::kDescNext, desc + 2);
      SetDesc(desc + 2, kHeaderArea + 64u * slot + 32, 1, virtio::kDescWrite, 0);
      Put16(kAvailAddr + 4 + 2u * (avail_idx_ % kQueueSize), desc);
      ++avail_idx_;
      ++submitted;
    };
    auto start = Clock::now();
    for (uint16_t slot = 0; slot < c.depth && submitted < requests; ++slot) submit(slot);
    Publish();
    while (completed < requests) {
      uint16_t used_idx = Get16(kUsedAddr + 2);
      bool resubmitted = false;
      while (last_used_ != used_idx) {
        uint32_t head = Get32(kUsedAddr + 4 + 8u * (last_used_ % kQueueSize));
        ++last_used_;
        ++completed;
        uint16_t slot = static_cast<uint16_t>(head / 3);
        if (Get8(kHeaderArea + 64u * slot + 32) != virtio_blk::kStatusOk) {
          return Error(ErrorCode::kInternal, std::string(c.name) + ": the device failed a request");
        }
        if (submitted < requests) {
          submit(slot);
          resubmitted = true;
        }
      }
      if (resubmitted) Publish();
    }
    double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return static_cast<double>(requests * c.request_bytes) / seconds;
  }

 private:
  void Publish() {
    Put16(kAvailAddr + 2, avail_idx_);
    uint16_t queue = 0;
    transport_.bar().Write(T::kNotifyOffset, {reinterpret_cast<uint8_t*>(&queue), 2});
  }
  void SetDesc(uint16_t index, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
    uint8_t d[16];
    std::memcpy(d, &addr, 8);
    std::memcpy(d + 8, &len, 4);
    std::memcpy(d + 12, &flags, 2);
    std::memcpy(d + 14, &next, 2);
    Fill(kDescAddr + 16u * index, d, 16);
  }
  void Fill(uint64_t gpa, const void* data, size_t len) {
    std::memcpy(*memory_.Translate(gpa, len), data, len);
  }
  void Put16(uint64_t gpa, uint16_t v) {
    __atomic_store_n(reinterpret_cast<uint16_t*>(*memory_.Translate(gpa, 2)), v, __ATOMIC_RELEASE);
  }
  uint16_t Get16(uint64_t gpa) {
    return __atomic_load_n(reinterpret_cast<uint16_t*>(*memory_.Translate(gpa, 2)),
                           __ATOMIC_ACQUIRE);
  }
  uint32_t Get32(uint64_t gpa) {
    uint32_t v;
    std::memcpy(&v, *memory_.Translate(gpa, 4), 4);
    return v;
  }
  uint8_t Get8(uint64_t gpa) {
    return *reinterpret_cast<volatile uint8_t*>(*memory_.Translate(gpa, 1));
  }
  template <typename V>
  void BarWrite(uint64_t offset, V value) {
    transport_.bar().Write(offset, {reinterpret_cast<const uint8_t*>(&value), sizeof value});
  }
  void Write8(uint64_t offset, uint8_t v) { BarWrite(offset, v); }
  void Write16(uint64_t offset, uint16_t v) { BarWrite(offset, v); }
  void Write32(uint64_t offset, uint32_t v) { BarWrite(offset, v); }
  void Write64(uint64_t offset, uint64_t v) { BarWrite(offset, v); }

  GuestMemory& memory_;
  T& transport_;
  uint16_t avail_idx_ = 0;
  uint16_t last_used_ = 0;
};

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

Result<double> RunDevice(const std::string& path, GuestMemory& memory, const Case& c,
                         uint64_t total) {
  ASSIGN_OR_RETURN(RawDisk disk, RawDisk::Open({path, false, ""}));
  VirtioBlock block(std::move(disk));
  testing::NoInterrupts irq;
  ASSIGN_OR_RETURN(std::unique_ptr<T> transport, T::Create(block, memory, irq, nullptr, 0, "blk"));
  transport->AssignBar(0, 0xc0000000);
  RingDriver driver(memory, *transport);
  driver.Initialize();
  return driver.Run(c, total);
}

// The same requests as plain syscalls from the same memory, one at a time.
Result<double> RunSyscalls(const std::string& path, GuestMemory& memory, const Case& c,
                           uint64_t total) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoError("opening " + path);
  uint8_t* buffer = *memory.Translate(kDataArea, c.request_bytes);
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

std::string Rate(const Case& c, double bytes_per_s) {
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
  const Case cases[] = {
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
  for (const Case& c : cases) {
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
