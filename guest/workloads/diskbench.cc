// diskbench [--disk N] [--qd N] [--duration S] [--size SIZE]
//           [--test all|seqwrite|seqread|randwrite|randread] [--heartbeat-ms M]
//
// Throughput of a virtio-blk disk from the guest: sequential 1 MiB and random 4 KiB
// writes and reads with --qd requests kept in flight, one machine-readable line per test.
// The tests write over the first --size bytes of the disk (its content is lost). Runs
// on CPU 0.
#include "rt/arena.h"
#include "rt/console.h"
#include "rt/exit.h"
#include "rt/format.h"
#include "rt/kvmclock.h"
#include "rt/virtio_blk.h"
#include "workloads/virtio_common.h"
#include "workloads/workload.h"

namespace guest {
namespace {

constexpr const char* kName = "diskbench";
constexpr uint64_t kSeqBytes = 1 << 20;
constexpr uint64_t kRandBytes = 4096;

struct Test {
  const char* name;
  uint32_t type;
  bool sequential;
};

// Writes first, so that the reads read written blocks (not holes a host may shortcut).
const Test kTests[] = {{"seqwrite", virtio::kBlkOut, true},
                       {"seqread", virtio::kBlkIn, true},
                       {"randwrite", virtio::kBlkOut, false},
                       {"randread", virtio::kBlkIn, false}};
const char* const kChoices[] = {"all", "seqwrite", "seqread", "randwrite", "randread"};

struct Config {
  virtio::Transport* transport = nullptr;
  int disk = 0;
  int qd = 1;
  uint64_t duration_ns = 0;
  uint64_t size = 0;
  int test = 0;  // 0 = all, else kTests[test - 1]
  uint64_t heartbeat_ns = 0;
};

constinit Config g_config;
constinit virtio::BlkDevice g_device;

void configure(Args& args, const Machine& machine) {
  g_config.disk = static_cast<int>(args.number("disk", 0, 0, 63));
  g_config.qd = static_cast<int>(args.number("qd", 1, 1, virtio::BlkDevice::kMaxInFlight));
  Duration d = args.duration("duration", Duration{false, 2'000'000'000});
  if (d.forever || d.ns == 0) fatal(kExitBadConfig, "--duration must be a number of seconds");
  g_config.duration_ns = d.ns;
  g_config.size = args.size("size", 256ull << 20);
  g_config.test = args.choice("test", kChoices, 5, 0);
  g_config.heartbeat_ns = args.number("heartbeat-ms", 0, 0, 3'600'000) * 1'000'000;
  if (g_config.size < kSeqBytes) fatal(kExitBadConfig, "--size must be at least 1M");
  g_config.transport = &open_virtio_device(kName, args, machine, virtio::kTypeBlock, g_config.disk);
}

class Rand {
 public:
  explicit Rand(uint64_t seed) : state_(seed | 1) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dull;
  }

 private:
  uint64_t state_;
};

// Runs one test for the configured duration; false after printing a FAIL line.
bool run_test(const Test& test, uint8_t* buffers, uint64_t area) {
  uint64_t bs = test.sequential ? kSeqBytes : kRandBytes;
  uint64_t slots = area / bs;
  int free[virtio::BlkDevice::kMaxInFlight];
  int free_count = 0;
  for (int i = g_config.qd - 1; i >= 0; --i) free[free_count++] = i;
  Rand rand(0x9e3779b97f4a7c15ull);
  uint64_t cursor = 0, ops = 0;
  uint64_t kicks0 = g_device.queue().kicks(), notes0 = g_device.queue().notifications();
  uint64_t start = clock::now_ns();
  uint64_t now = start;
  for (;;) {
    bool submitting = now - start < g_config.duration_ns;
    while (submitting && free_count > 0) {
      uint64_t slot = test.sequential ? cursor++ % slots : rand.next() % slots;
      int b = free[--free_count];
      uint8_t refused = g_device.submit(test.type, slot * (bs / 512),
                                        buffers + static_cast<uint64_t>(b) * kSeqBytes,
                                        static_cast<uint32_t>(bs), static_cast<uint64_t>(b));
      if (refused != virtio::kBlkOk) {
        console::print("diskbench: FAIL reason=refused test=%s status=%s\n", test.name,
                       virtio::blk_status_name(refused));
        return false;
      }
    }
    g_device.kick();
    if (g_device.in_flight() == 0) break;
    uint64_t cookie;
    uint8_t status;
    g_device.wait(&cookie, &status);
    do {
      if (status != virtio::kBlkOk) {
        console::print("diskbench: FAIL reason=io_error test=%s status=%s\n", test.name,
                       virtio::blk_status_name(status));
        return false;
      }
      free[free_count++] = static_cast<int>(cookie);
      ++ops;
    } while (g_device.poll(&cookie, &status));
    now = clock::now_ns();
    beat_poll();
  }
  uint64_t ns = now - start;
  char ms[24], mib_s[24];
  console::print(
      "diskbench: result test=%s bs=%lu qd=%d ops=%lu bytes=%lu ms=%s mib_s=%s iops=%lu "
      "kicks=%lu notifications=%lu\n",
      test.name, bs, g_config.qd, ops, ops * bs, format_ms(ns, ms),
      format_per_second(ops, bs, 1 << 20, ns, mib_s),
      ns == 0 ? 0 : static_cast<uint64_t>(static_cast<unsigned __int128>(ops) * 1'000'000'000 / ns),
      g_device.queue().kicks() - kicks0, g_device.queue().notifications() - notes0);
  return true;
}

uint32_t run(int cpu) {
  if (cpu != 0) return kExitPass;
  g_device.open(*g_config.transport, g_config.qd);
  beat_start(g_config.heartbeat_ns);
  uint64_t area = g_config.size;
  uint64_t disk_bytes = g_device.sectors() * 512;
  if (area > disk_bytes) area = disk_bytes & ~(kSeqBytes - 1);
  if (area < kSeqBytes)
    fatal_for(kName, kExitInternal, "disk %d is smaller than 1M", g_config.disk);
  bool writes = g_config.test == 0 || kTests[g_config.test - 1].type == virtio::kBlkOut;
  if (writes && g_device.read_only()) {
    fatal_for(kName, kExitInternal, "disk %d (%s) is read-only: use --test seqread or randread",
              g_config.disk, g_config.transport->where());
  }
  auto* buffers =
      static_cast<uint8_t*>(arena::alloc(static_cast<uint64_t>(g_config.qd) * kSeqBytes, 4096));
  // Something other than zeros, so that no layer can take the writes for holes.
  for (uint64_t i = 0; i < static_cast<uint64_t>(g_config.qd) * kSeqBytes; i += 8) {
    *reinterpret_cast<uint64_t*>(buffers + i) = i * 0x9e3779b97f4a7c15ull + 1;
  }
  console::print("diskbench: disk=%d where=%s sectors=%lu area=%lu qd=%d features=0x%lx\n",
                 g_config.disk, g_config.transport->where(), g_device.sectors(), area, g_config.qd,
                 g_device.features());
  int tests = 0;
  for (int i = 0; i < 4; ++i) {
    if (g_config.test != 0 && g_config.test != i + 1) continue;
    if (!run_test(kTests[i], buffers, area)) return kExitVerifyFailed;
    ++tests;
  }
  console::print("diskbench: PASS tests=%d qd=%d\n", tests, g_config.qd);
  return kExitPass;
}

}  // namespace

extern const Workload kDiskbenchWorkload = {"diskbench", configure, run};

}  // namespace guest
