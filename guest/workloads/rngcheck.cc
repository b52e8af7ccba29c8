// rngcheck [--bytes N] [--rng N]: reads N bytes from a virtio-rng device and checks that
// they look random at all: not all the same byte, about as many one bits as zero bits,
// and (from 2 KiB up) nearly every byte value seen. A smoke test of the device and the
// queue, not a statistical test suite. Runs on CPU 0.
#include "rt/arena.h"
#include "rt/console.h"
#include "rt/exit.h"
#include "rt/virtio_rng.h"
#include "workloads/virtio_common.h"
#include "workloads/workload.h"

namespace guest {
namespace {

constexpr const char* kName = "rngcheck";
constexpr uint32_t kChunk = 4096;
constexpr int kMaxEmptyReads = 1000;

constinit virtio::Transport* g_transport = nullptr;
constinit virtio::RngDevice g_rng;
constinit uint64_t g_bytes = 0;

void configure(Args& args, const Machine& machine) {
  g_bytes = args.size("bytes", 4096);
  int index = static_cast<int>(args.number("rng", 0, 0, 63));
  if (g_bytes == 0) fatal(kExitBadConfig, "--bytes must be at least 1");
  g_transport = &open_virtio_device(kName, args, machine, virtio::kTypeRng, index);
}

uint64_t isqrt(uint64_t n) {
  uint64_t r = 0;
  for (uint64_t bit = 1ull << 62; bit != 0; bit >>= 2) {
    if (n >= r + bit) {
      n -= r + bit;
      r = (r >> 1) + bit;
    } else {
      r >>= 1;
    }
  }
  return r;
}

uint32_t run(int cpu) {
  if (cpu != 0) return kExitPass;
  g_rng.open(*g_transport);
  auto* buffer = static_cast<uint8_t*>(arena::alloc(kChunk, 4096));
  uint64_t seen[256] = {};
  uint64_t ones = 0, got = 0, requests = 0;
  int empty = 0;
  while (got < g_bytes) {
    uint32_t want = g_bytes - got < kChunk ? static_cast<uint32_t>(g_bytes - got) : kChunk;
    uint32_t n = g_rng.read(buffer, want);
    ++requests;
    if (n == 0 && ++empty == kMaxEmptyReads) {
      console::print("rngcheck: FAIL reason=no_entropy bytes=%lu requests=%lu\n", got, requests);
      return kExitVerifyFailed;
    }
    for (uint32_t i = 0; i < n; ++i) {
      ++seen[buffer[i]];
      ones += static_cast<uint64_t>(__builtin_popcount(buffer[i]));
    }
    got += n;
  }
  int distinct = 0;
  bool all_equal = false;
  for (uint64_t count : seen) {
    distinct += count != 0;
    all_equal |= count == got;
  }
  uint64_t bits = got * 8;
  uint64_t deviation = ones > bits / 2 ? ones - bits / 2 : bits / 2 - ones;
  // Ones ~ Binomial(bits, 1/2): standard deviation sqrt(bits)/2. Allow 5 of them (+4).
  uint64_t allowed = 5 * isqrt(bits) / 2 + 4;
  uint64_t permille = ones * 1000 / bits;
  const char* reason = nullptr;
  if (all_equal && got > 1) {
    reason = "all_equal";
  } else if (deviation > allowed) {
    reason = "bit_balance";
  } else if (got >= 2048 && distinct < 250) {
    reason = "few_values";
  }
  if (reason != nullptr) {
    console::print("rngcheck: FAIL reason=%s bytes=%lu ones_permille=%lu distinct=%d\n", reason,
                   got, permille, distinct);
    return kExitVerifyFailed;
  }
  console::print("rngcheck: PASS bytes=%lu requests=%lu ones_permille=%lu distinct=%d where=%s\n",
                 got, requests, permille, distinct, g_transport->where());
  return kExitPass;
}

}  // namespace

extern const Workload kRngcheckWorkload = {"rngcheck", configure, run};

}  // namespace guest
