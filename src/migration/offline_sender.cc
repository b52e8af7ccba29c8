#include "migration/offline_sender.h"

#include <sys/socket.h>
#include <cstdlib>

#include "base/clock.h"
#include "migration/handshake.h"
#include "migration/page_batch.h"
#include "state/memory_image.h"

namespace ferry::migration {
namespace {

constexpr size_t kPagesPerBatch = 1024;  // 4 MiB sections
constexpr int kReplyTimeoutMs = 60'000;

// Receive timeout for replies, so a silent peer cannot hang the source.
void SetReceiveTimeout(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

Status SendMemory(const GuestMemory& memory, state::SectionWriter& writer,
                  MigrationReport& report) {
  PageBatch batch(kPagesPerBatch);
  state::MemoryImageStats stats;
  const uint8_t* base = memory.host_base();
  RETURN_IF_ERROR(state::ScanDataRuns(
      memory,
      [&](uint64_t offset, uint64_t length) -> Status {
        for (uint64_t at = offset; at < offset + length; at += kPageSize) {
          batch.AddNormal(at / kPageSize, base + at);
          if (batch.full()) RETURN_IF_ERROR(batch.Flush(writer));
        }
        return OkStatus();
      },
      &stats));
  RETURN_IF_ERROR(batch.Flush(writer));
  report.pages_normal = stats.pages_data;
  report.pages_zero = stats.pages_zero;
  return OkStatus();
}

// The part that may fail without consequence: the VM resumes afterwards.
Status SendUntilReady(MigratableVm& vm, state::SectionWriter& writer, state::SectionReader& reader,
                      const state::FdSink& sink, MigrationReport& report, int64_t started_ns,
                      int64_t* paused_ns, bool* paused) {
  // Setup: the destination checks the machine and reserves memory before any page moves.
  RETURN_IF_ERROR(writer.WriteFileHeader());
  int64_t asked_at = MonotonicNs();
  RETURN_IF_ERROR(state::WriteMachineConfig(writer, vm.machine_config(), vm.guest_cpuid()));
  ASSIGN_OR_RETURN(Reply accept, ReadReply(reader, state::SectionType::kAccept));
  int64_t answered_at = MonotonicNs();
  // The receiver's clock minus ours, assuming the reply took as long as the request.
  int64_t offset = accept.time_ns - (asked_at + answered_at) / 2;
  report.clock_offset_ms = NsToMs(offset);
  report.downtime_clock = !accept.boot_id.empty() && accept.boot_id == KernelBootId()
                              ? "same-host"
                              : "offset-corrected";
  report.setup_ms = NsToMs(answered_at - started_ns);

  RETURN_IF_ERROR(vm.Pause());
  *paused = true;
  *paused_ns = MonotonicNs();
  RETURN_IF_ERROR_CTX(SendMemory(vm.memory(), writer, report), "sending memory");
  ASSIGN_OR_RETURN(state::MachineState machine, vm.CaptureState());
  RETURN_IF_ERROR(state::WriteDeviceSections(writer, machine));
  RETURN_IF_ERROR(writer.WriteEnd());
  report.transfer_ms = NsToMs(MonotonicNs() - *paused_ns);
  report.bytes_sent = sink.bytes_written();
  RETURN_IF_ERROR(ReadReply(reader, state::SectionType::kReady));
  return OkStatus();
}

}  // namespace

Result<MigrationReport> SendOffline(MigratableVm& vm, int fd, const std::string& destination,
                                    int64_t started_ns, bool* committed) {
  *committed = false;
  MigrationReport report;
  report.destination = destination;
  SetReceiveTimeout(fd, kReplyTimeoutMs);
  state::FdSink sink(fd);
  state::FdSource source(fd);
  state::SectionWriter writer(sink);
  state::SectionReader reader(source);

  int64_t paused_ns = 0;
  bool paused = false;
  Status ready = SendUntilReady(vm, writer, reader, sink, report, started_ns, &paused_ns, &paused);
  if (!ready.ok()) {
    if (paused) (void)vm.Resume();  // the destination never runs a half-received VM
    return std::move(ready).error();
  }
  // The point of no return: after `go` only the destination may run the VM.
  RETURN_IF_ERROR_CTX(writer.Write(state::SectionType::kGo, 0, {}), "handing over");
  *committed = true;
  ASSIGN_OR_RETURN(Reply running, ReadReply(reader, state::SectionType::kRunning));
  int64_t offset_ns = static_cast<int64_t>(report.clock_offset_ms * 1e6);
  // One host shares CLOCK_MONOTONIC; across hosts the measured offset corrects it.
  bool same_host = report.downtime_clock == "same-host";
  int64_t resumed_ns = running.time_ns - (same_host ? 0 : offset_ns);
  report.downtime_ms = NsToMs(resumed_ns - paused_ns);
  report.bytes_sent = sink.bytes_written();
  report.total_ms = NsToMs(MonotonicNs() - started_ns);
  return report;
}

}  // namespace ferry::migration
