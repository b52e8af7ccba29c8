// diskcheck [--disk N] [--size SIZE] [--block-size SIZE] [--rate R|max]
//           [--duration S|forever] [--pattern seq|random] [--heartbeat-ms M]
//           [--sweep-ms M] [--linger S|forever] [--verify-only] [--selftest-corrupt]
//
// Writes versioned, self-describing blocks (diskcheck_block.h) across a virtio-blk disk
// and verifies them: before each rewrite, in sweeps every --sweep-ms, and once more at
// the end. The version table lives in guest RAM, so it migrates with the memory, and
// at the end goes to the disk (diskcheck_layout.h) so that a later --verify-only run
// can check every block against it. Runs on CPU 0.
#include "rt/arena.h"
#include "rt/console.h"
#include "rt/exit.h"
#include "rt/format.h"
#include "rt/kvmclock.h"
#include "rt/pacer.h"
#include "rt/virtio_blk.h"
#include "rt/x86.h"
#include "workloads/dirtier_pick.h"
#include "workloads/diskcheck_disk.h"
#include "workloads/virtio_common.h"
#include "workloads/workload.h"

namespace guest::diskcheck {
namespace {

constexpr const char* kName = "diskcheck";
constexpr uint64_t kNsPerMs = 1'000'000;
constexpr uint64_t kBurstBlocks = 16;      // most blocks written between clock checks
constexpr uint64_t kSweepStepBlocks = 8;   // blocks verified per sweep step
constexpr uint64_t kSweepStepScan = 4096;  // table entries looked at per sweep step

struct Config {
  virtio::Transport* transport = nullptr;
  int disk = 0;
  uint64_t size = 0;  // 0: the whole disk
  uint64_t block_size = 4096;
  uint64_t rate = 0;  // bytes/s, 0 = max
  Duration duration{true, 0};
  Duration linger{false, 0};  // after the PASS line: heartbeats only, no disk I/O
  dirtier::Pattern pattern = dirtier::Pattern::kSeq;
  uint64_t heartbeat_ns = 0;
  uint64_t sweep_ns = 0;
  bool verify_only = false;
  bool selftest_corrupt = false;
};

constinit Config g_config;
constinit virtio::BlkDevice g_device;

const char* const kPatterns[] = {"seq", "random"};

void configure(Args& args, const Machine& machine) {
  g_config.disk = static_cast<int>(args.number("disk", 0, 0, 63));
  g_config.size = args.size("size", 0);
  g_config.block_size = args.size("block-size", 4096);
  Rate rate = args.rate("rate", Rate{true, 0});
  g_config.rate = rate.max ? 0 : rate.bytes_per_second;
  g_config.duration = args.duration("duration", Duration{true, 0});
  g_config.linger = args.duration("linger", Duration{false, 0});
  g_config.pattern = static_cast<dirtier::Pattern>(args.choice("pattern", kPatterns, 2, 0));
  g_config.heartbeat_ns = args.number("heartbeat-ms", 5, 0, 3'600'000) * kNsPerMs;
  g_config.sweep_ns = args.number("sweep-ms", 1000, 0, 3'600'000) * kNsPerMs;
  g_config.verify_only = args.flag("verify-only");
  g_config.selftest_corrupt = args.flag("selftest-corrupt");
  uint64_t bs = g_config.block_size;
  if (bs < 512 || bs > (1u << 20) || bs % 512 != 0) {
    fatal(kExitBadConfig, "--block-size must be a multiple of 512 from 512 to 1M");
  }
  if (g_config.size % bs != 0) fatal(kExitBadConfig, "--size must be a multiple of --block-size");
  g_config.transport = &open_virtio_device(kName, args, machine, virtio::kTypeBlock, g_config.disk);
}

uint64_t make_run_id() {
  uint64_t id = x86::rdtsc_ordered() * 0x9e3779b97f4a7c15ull ^ clock::now_ns();
  return id == 0 ? 1 : id;
}

// GET_ID: the device's serial (up to 20 bytes, NUL padded), printed when it answers.
void print_id() {
  auto* id = static_cast<char*>(arena::alloc(20, 64));
  uint8_t status = g_device.run(virtio::kBlkGetId, 0, id, 20);
  char text[21] = {};
  for (int i = 0; i < 20 && id[i] != '\0'; ++i) text[i] = id[i] > ' ' && id[i] < 127 ? id[i] : '?';
  console::print("diskcheck: id=\"%s\" status=%s\n", status == virtio::kBlkOk ? text : "",
                 virtio::blk_status_name(status));
}

void print_disk(const Layout& layout) {
  char bs[24];
  console::print(
      "diskcheck: disk=%d where=%s sectors=%lu block_size=%s blocks=%lu table_blocks=%lu "
      "features=0x%lx ro=%d flush=%d\n",
      g_config.disk, g_device.transport().where(), g_device.sectors(),
      format_size(layout.block_size, bs), layout.blocks, layout.table_blocks, g_device.features(),
      g_device.read_only(), g_device.can_flush());
}

// Verify-only: the header must be clean, the table must match its checksum and sum,
// and every block must hold its recorded version (or, never written, no trace of the run).
uint32_t verify_only() {
  auto* sector0 = arena::alloc_array<uint64_t>(512 / 8, 4096);
  Layout layout;
  HeaderState h;
  Disk probe(g_device, Layout{512, 0, 0}, nullptr, 0, sector0);
  probe.read(0, sector0, 512, "header", 0);
  if (const char* what = decode_header(sector0, &layout, &h)) {
    console::print("diskcheck: FAIL reason=header what=%s\n", what);
    return kExitVerifyFailed;
  }
  if (layout.total_blocks() * layout.sectors_per_block() > g_device.sectors()) {
    console::print("diskcheck: FAIL reason=header what=layout blocks=%lu sectors=%lu\n",
                   layout.blocks, g_device.sectors());
    return kExitVerifyFailed;
  }
  print_disk(layout);
  if (h.state != kStateClean) {
    console::print(
        "diskcheck: FAIL reason=unclean state=%lu run=0x%lx (the writer did not finish)\n", h.state,
        h.run);
    return kExitVerifyFailed;
  }
  auto* versions =
      static_cast<uint64_t*>(arena::alloc(layout.table_blocks * layout.block_size, 4096));
  auto* buffer = static_cast<uint64_t*>(arena::alloc(layout.block_size, 4096));
  Disk disk(g_device, layout, versions, h.run, buffer);
  disk.load_table();
  uint64_t checksum = table_checksum(versions, layout.blocks);
  if (checksum != h.table_checksum) {
    console::print("diskcheck: FAIL reason=table_checksum expected=0x%lx found=0x%lx\n",
                   h.table_checksum, checksum);
    return kExitVerifyFailed;
  }
  disk.verify_version_sum(h.writes);
  uint64_t unwritten = 0;
  for (uint64_t i = 0; i < layout.blocks; ++i) {
    if (disk.version(i) != 0) {
      disk.verify(i);
    } else {
      disk.verify_unwritten(i, (h.flags & kFlagZeroed) != 0);
      ++unwritten;
    }
    beat_poll();
  }
  char gap[24];
  console::print(
      "diskcheck: PASS mode=verify-only blocks=%lu verified=%lu unwritten=%lu zeroed=%d "
      "run=0x%lx writes=%lu max_gap_ms=%s\n",
      layout.blocks, disk.verified(), unwritten, (h.flags & kFlagZeroed) != 0, h.run, h.writes,
      format_ms(beat_max_gap_ns(), gap));
  return kExitPass;
}

// One step of a verification pass over the written blocks; true when the pass ended.
bool sweep_step(Disk& disk, const Layout& layout, uint64_t& cursor) {
  uint64_t verified = 0;
  for (uint64_t scanned = 0;
       scanned < kSweepStepScan && verified < kSweepStepBlocks && cursor < layout.blocks;
       ++scanned, ++cursor) {
    if (disk.version(cursor) == 0) continue;
    disk.verify(cursor);
    ++verified;
  }
  if (cursor < layout.blocks) return false;
  disk.verify_version_sum(disk.written());
  return true;
}

uint32_t write_and_verify() {
  Layout layout;
  if (!plan_layout(g_device.sectors(), g_config.block_size, g_config.size / g_config.block_size,
                   &layout)) {
    char size[24];
    fatal_for(kName, kExitBadConfig, "disk %d (%lu sectors) too small for --size %s", g_config.disk,
              g_device.sectors(), format_size(g_config.size, size));
  }
  print_disk(layout);
  auto* versions =
      static_cast<uint64_t*>(arena::alloc(layout.table_blocks * layout.block_size, 4096));
  auto* buffer = static_cast<uint64_t*>(arena::alloc(layout.block_size, 4096));
  uint64_t run = make_run_id();
  Disk disk(g_device, layout, versions, run, buffer);
  disk.save(kStateWriting, 0, 0);  // from here until the end the table on disk is stale
  bool discarded = false;
  uint64_t flags = disk.prepare(&discarded);
  console::print("diskcheck: prepared discard=%s write_zeroes=%s\n", discarded ? "ok" : "-",
                 flags & kFlagZeroed ? "ok" : "-");

  dirtier::PagePicker picker(g_config.pattern, layout.blocks, layout.blocks, run);
  bool corrupt_next = g_config.selftest_corrupt;
  bool sweeping = false;
  uint64_t cursor = 0;
  uint64_t sweeps = 0;
  uint64_t start = clock::now_ns();
  uint64_t now = start;
  uint64_t next_sweep = start + g_config.sweep_ns;
  Pacer pacer(g_config.rate, layout.block_size, start);
  while (g_config.duration.forever || now - start < g_config.duration.ns) {
    if (g_config.sweep_ns != 0 && !sweeping && now >= next_sweep) {
      sweeping = true;
      cursor = 0;
    }
    if (sweeping && sweep_step(disk, layout, cursor)) {
      sweeping = false;
      ++sweeps;
      next_sweep = now + g_config.sweep_ns;
    }
    uint64_t burst = pacer.take(now, kBurstBlocks);
    for (uint64_t i = 0; i < burst; ++i) {
      uint64_t block = picker.next();
      disk.write_block(block);
      if (corrupt_next) disk.corrupt(block);  // the checks must notice
      corrupt_next = false;
    }
    if (burst == 0 && !sweeping) x86::pause();
    now = clock::now_ns();
    beat_poll();
  }
  uint64_t write_ns = now - start;
  for (cursor = 0; !sweep_step(disk, layout, cursor);) beat_poll();
  ++sweeps;
  disk.save(kStateClean, disk.written(), flags);

  char rate[24], gap[24];
  console::print(
      "diskcheck: PASS blocks=%lu block_size=%lu writes=%lu mib_s=%s verified=%lu sweeps=%lu "
      "run=0x%lx max_gap_ms=%s\n",
      layout.blocks, layout.block_size, disk.written(),
      format_per_second(disk.written(), layout.block_size, 1 << 20, write_ns, rate),
      disk.verified(), sweeps, run, format_ms(beat_max_gap_ns(), gap));
  // Keeps the guest alive with the disk at rest, so that a test can compare
  // images while the VM still runs (or moves).
  for (uint64_t idle = clock::now_ns();
       g_config.linger.forever || clock::now_ns() - idle < g_config.linger.ns;) {
    x86::pause();
    beat_poll();
  }
  return kExitPass;
}

uint32_t run(int cpu) {
  if (cpu != 0) return kExitPass;
  g_device.open(*g_config.transport, 1);
  beat_start(g_config.heartbeat_ns);
  print_id();
  if (g_config.verify_only) return verify_only();
  if (g_device.read_only()) {
    fatal_for(kName, kExitInternal,
              "disk %d (%s) is read-only (VIRTIO_BLK_F_RO): writes refused; use --verify-only",
              g_config.disk, g_device.transport().where());
  }
  return write_and_verify();
}

}  // namespace
}  // namespace guest::diskcheck

namespace guest {
extern const Workload kDiskcheckWorkload = {"diskcheck", diskcheck::configure, diskcheck::run};
}  // namespace guest
