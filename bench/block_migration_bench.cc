// Block migration without a guest and without KVM: `ferry migrate
// --copy-storage`'s engine (SendPrecopy with the disk sender) on a
// DiskWritingVm (src/vm/disk_writing_vm_test_util.h): plain memory, and a 2
// GiB raw disk behind ferry's real virtio-blk device, written through it by a
// driver thread while the disk and memory move over loopback TCP into the
// offline receiver and a target image. After every run the target must equal
// the source byte for byte. bench/block_migrate.py --no-guest runs this beside
// QEMU's blockdev-mirror with the same writes.
//
//   build/src/ferry_block_migration_bench [--dir DIR] [--runs N] [--json]
//       [--disk-mib 2048] [--data-mib 1024] [--memory-mib 512]
//       [--write-mib 256] [--write-rate-mib 64] [--spin]
//
// The writes: 1 MiB requests in order, round and round the disk's first
// --write-mib, paced at --write-rate-mib per second from the moment the
// migration starts until the source pauses (as the guest kit's diskcheck
// writes its area in bench/block_migrate.py). The data: random, in the disk's last --data-mib.
// --spin keeps a thread busy, as a guest's vCPU takes a core of this 2-core host.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "migration/precopy_sender.h"
#include "vm/disk_writing_vm_test_util.h"

namespace ferry {
namespace {

using migration::MigrationReport;
using migration::testing::Link;
using migration::testing::PlainReceiver;
using testing::DiskWritingVm;

struct Config {
  std::string dir = "/var/tmp";
  int runs = 3;
  bool json = false;
  bool spin = false;  // a thread spinning as a guest's vCPU does
  uint64_t disk_mib = 2048, data_mib = 1024, memory_mib = 512, write_mib = 256, write_rate_mib = 64;
};

struct Run {
  double total_ms = 0;
  double downtime_ms = 0;
  double mib_sent = 0;
  double mib_written = 0;  // by the writer before the pause
  uint64_t dirty_chunks = 0;
  uint64_t final_chunks = 0;
};

Status MakeSource(const std::string& path, const Config& config) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoError("creating " + path);
  if (::ftruncate(fd.get(), static_cast<off_t>(config.disk_mib << 20)) != 0) {
    return ErrnoError("sizing " + path);
  }
  std::vector<uint64_t> block((4 << 20) / 8);
  uint64_t state = 11;  // xorshift64: random enough that nothing compresses or reads as zero
  for (uint64_t at = (config.disk_mib - config.data_mib) << 20; at < config.disk_mib << 20;
       at += 4 << 20) {
    for (uint64_t& word : block) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      word = state;
    }
    if (::pwrite(fd.get(), block.data(), 4 << 20, static_cast<off_t>(at)) != 4 << 20) {
      return ErrnoError("filling " + path);
    }
  }
  return OkStatus();
}

Result<bool> SameImages(const std::string& a, const std::string& b, uint64_t bytes) {
  Fd fa(::open(a.c_str(), O_RDONLY | O_CLOEXEC)), fb(::open(b.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fa.valid() || !fb.valid()) return ErrnoError("opening the images to compare");
  std::vector<char> x(4 << 20), y(4 << 20);
  for (uint64_t at = 0; at < bytes; at += x.size()) {
    if (::pread(fa.get(), x.data(), x.size(), static_cast<off_t>(at)) !=
            static_cast<ssize_t>(x.size()) ||
        ::pread(fb.get(), y.data(), y.size(), static_cast<off_t>(at)) !=
            static_cast<ssize_t>(y.size())) {
      return ErrnoError("reading the images to compare");
    }
    if (x != y) return false;
  }
  return true;
}

Result<Run> OneRun(const Config& config) {
  std::string source = config.dir + "/ferry-blkmig-bench-source.img";
  std::string target = config.dir + "/ferry-blkmig-bench-target.img";
  ::unlink(target.c_str());
  ::unlink(migration::PartialCopyPath(target).c_str());
  RETURN_IF_ERROR(MakeSource(source, config));
  ASSIGN_OR_RETURN(std::unique_ptr<DiskWritingVm> vm,
                   DiskWritingVm::Create(config.memory_mib << 20, source));
  ASSIGN_OR_RETURN(Link link, migration::testing::LoopbackLink());
  PlainReceiver receiver;
  receiver.disk_targets = {target};
  std::thread destination([&] { receiver.Run(link.destination.get()); });
  migration::PrecopyOptions options;
  options.copy_storage = true;  // the policy's defaults, as `ferry migrate` has them
  vm->StartWriter(config.write_mib << 20, config.write_rate_mib << 20);
  bool committed = false;
  Result<MigrationReport> report =
      migration::SendPrecopy(*vm, link.source.get(), "bench", MonotonicNs(), options, &committed);
  destination.join();
  vm->StopWriter();
  RETURN_IF_ERROR(report);
  RETURN_IF_ERROR(receiver.handover);
  if (std::getenv("FERRY_BENCH_REPORT")) {
    std::fprintf(stderr, "%s\n", report->ToJson().Dump().c_str());
  }
  if (vm->writer_failed()) return Error(ErrorCode::kInternal, "the device failed a write");
  ASSIGN_OR_RETURN(bool same, SameImages(source, target, config.disk_mib << 20));
  if (!same) return Error(ErrorCode::kInternal, "the target image differs from the source");
  ::unlink(source.c_str());
  ::unlink(target.c_str());
  const migration::DiskReport& disk = report->disks.at(0);
  return Run{report->total_ms,
             report->downtime_ms,
             static_cast<double>(report->bytes_sent) / (1 << 20),
             static_cast<double>(vm->bytes_written()) / (1 << 20),
             disk.dirty_chunks,
             disk.final_chunks};
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F>
std::string Cell(const std::vector<Run>& runs, F field, const char* format) {
  std::vector<double> v;
  for (const Run& r : runs) v.push_back(static_cast<double>(field(r)));
  char median[32], low[32], high[32], text[128];
  std::snprintf(median, sizeof median, format, Median(v));
  std::snprintf(low, sizeof low, format, *std::min_element(v.begin(), v.end()));
  std::snprintf(high, sizeof high, format, *std::max_element(v.begin(), v.end()));
  std::snprintf(text, sizeof text, "%s (%s–%s)", median, low, high);
  return text;
}

int Main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto next = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string("0"); };
    if (flag == "--dir") config.dir = next();
    if (flag == "--runs") config.runs = std::stoi(next());
    if (flag == "--json") config.json = true;
    if (flag == "--spin") config.spin = true;
    if (flag == "--disk-mib") config.disk_mib = std::stoull(next());
    if (flag == "--data-mib") config.data_mib = std::stoull(next());
    if (flag == "--memory-mib") config.memory_mib = std::stoull(next());
    if (flag == "--write-mib") config.write_mib = std::stoull(next());
    if (flag == "--write-rate-mib") config.write_rate_mib = std::stoull(next());
  }
  ::signal(SIGPIPE, SIG_IGN);
  std::atomic<bool> stop{false};
  std::thread spinner;
  if (config.spin) {
    spinner = std::thread([&] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  struct StopSpinner {
    std::atomic<bool>& stop;
    std::thread& spinner;
    ~StopSpinner() {
      stop.store(true);
      if (spinner.joinable()) spinner.join();
    }
  } stop_spinner{stop, spinner};
  std::vector<Run> runs;
  for (int r = 0; r < config.runs; ++r) {
    Result<Run> run = OneRun(config);
    if (!run.ok()) {
      std::fprintf(stderr, "ferry_block_migration_bench: %s\n", run.error().message().c_str());
      return 1;
    }
    if (config.json) {
      std::printf(
          "{\"total_ms\": %.3f, \"downtime_ms\": %.3f, \"mib_sent\": %.1f, \"mib_written\": %.1f, "
          "\"dirty_chunks\": %lu, \"final_chunks\": %lu}\n",
          run->total_ms, run->downtime_ms, run->mib_sent, run->mib_written,
          static_cast<unsigned long>(run->dirty_chunks),
          static_cast<unsigned long>(run->final_chunks));
      std::fflush(stdout);
    }
    runs.push_back(*run);
  }
  if (config.json) return 0;
  std::printf(
      "Block migration without a guest (`ferry_block_migration_bench --runs %d%s`): %lu MiB raw "
      "disk with %lu MiB of data, %lu MiB of zero memory, writes through virtio-blk over its first "
      "%lu MiB at %lu MiB/s from the start to the pause; loopback TCP; medians (range) of %d runs; "
      "every target equal to "
      "its source\n\n",
      config.runs, config.spin ? " --spin" : "", static_cast<unsigned long>(config.disk_mib),
      static_cast<unsigned long>(config.data_mib), static_cast<unsigned long>(config.memory_mib),
      static_cast<unsigned long>(config.write_mib),
      static_cast<unsigned long>(config.write_rate_mib), config.runs);
  std::printf(
      "| total ms | downtime ms | MiB sent | MiB written before the pause | chunks resent |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf("| %s | %s | %s | %s | %s |\n",
              Cell(
                  runs, [](const Run& r) { return r.total_ms; }, "%.0f")
                  .c_str(),
              Cell(
                  runs, [](const Run& r) { return r.downtime_ms; }, "%.2f")
                  .c_str(),
              Cell(
                  runs, [](const Run& r) { return r.mib_sent; }, "%.0f")
                  .c_str(),
              Cell(
                  runs, [](const Run& r) { return r.mib_written; }, "%.0f")
                  .c_str(),
              Cell(
                  runs, [](const Run& r) { return r.dirty_chunks; }, "%.0f")
                  .c_str());
  return 0;
}

}  // namespace
}  // namespace ferry

int main(int argc, char** argv) {
  return ferry::Main(argc, argv);
}
