#include "migration/sender_steps.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "migration/disk_sender.h"
#include "migration/handshake.h"
#include "state/disk_plan.h"

namespace ferry::migration {
namespace {

class BufferSink final : public state::ByteSink {
 public:
  Status WriteGather(std::span<const iovec> pieces) override {
    for (const iovec& piece : pieces) {
      auto* data = static_cast<const uint8_t*>(piece.iov_base);
      bytes.insert(bytes.end(), data, data + piece.iov_len);
    }
    return OkStatus();
  }
  std::vector<uint8_t> bytes;
};

}  // namespace

void SetPeerTimeout(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void Cork(SenderStreams& streams, bool on) {
  int value = on ? 1 : 0;
  // Not a socket (a test's pipe): nothing to cork.
  (void)::setsockopt(streams.fd, IPPROTO_TCP, TCP_CORK, &value, sizeof value);
}

Status OpenStream(MigratableVm& vm, SenderStreams& streams, MigrationReport& report,
                  int64_t started_ns) {
  RETURN_IF_ERROR(streams.writer.WriteFileHeader());
  int64_t asked_at = MonotonicNs();
  RETURN_IF_ERROR(state::WriteMachineConfig(streams.writer, vm.machine_config()));
  ASSIGN_OR_RETURN(Reply accept, ReadReply(streams.reader, state::SectionType::kAccept));
  int64_t answered_at = MonotonicNs();
  // The receiver's clock minus ours, assuming the reply took as long as the request.
  report.clock_offset_ms = NsToMs(accept.time_ns - (asked_at + answered_at) / 2);
  report.downtime_clock = !accept.boot_id.empty() && accept.boot_id == KernelBootId()
                              ? "same-host"
                              : "offset-corrected";
  report.setup_ms = NsToMs(answered_at - started_ns);
  streams.receiver_abilities = accept.abilities;
  return OkStatus();
}

Result<bool> DrainToReceiver(SenderStreams& streams) {
  if ((streams.receiver_abilities & kReceiverSyncs) == 0) return false;
  RETURN_IF_ERROR(streams.writer.Write(state::SectionType::kSync, 0, {}));
  RETURN_IF_ERROR_CTX(ReadReplySection(streams.reader, state::SectionType::kSynced),
                      "waiting for the destination to catch up");
  return true;
}

Status OpenDisks(DiskSender& disks, SenderStreams& streams) {
  if (!disks.has_disks()) return OkStatus();
  std::vector<state::DiskPlanEntry> plan = disks.Plan();
  RETURN_IF_ERROR(state::WriteDiskPlan(streams.writer, plan));
  ASSIGN_OR_RETURN(state::Section answer,
                   ReadReplySection(streams.reader, state::SectionType::kDiskResume));
  ASSIGN_OR_RETURN(std::vector<state::DiskResumeEntry> resume, state::ReadDiskResume(answer, plan));
  return disks.ApplyResume(resume);
}

Status SendDevicesAndAwaitReady(MigratableVm& vm, SenderStreams& streams,
                                SwitchoverPhases& phases) {
  int64_t start = MonotonicNs();
  Cork(streams, true);
  ASSIGN_OR_RETURN(state::MachineState machine, vm.CaptureState());
  // All device sections and the end in one write: a dozen small writes on the
  // paused path cost more than assembling ~12 KiB.
  BufferSink buffer;
  state::SectionWriter sections(buffer);
  RETURN_IF_ERROR(state::WriteDeviceSections(sections, machine));
  RETURN_IF_ERROR(sections.WriteEnd());
  RETURN_IF_ERROR(streams.sink.Write(buffer.bytes));
  Cork(streams, false);
  int64_t sent = MonotonicNs();
  phases.devices_ms = NsToMs(sent - start);
  RETURN_IF_ERROR(ReadReply(streams.reader, state::SectionType::kReady));
  phases.load_ms = NsToMs(MonotonicNs() - sent);
  RETURN_IF_ERROR_CTX(vm.ReleaseDisks(), "handing the disks over");
  return OkStatus();
}

Status HandOver(SenderStreams& streams, MigrationReport& report, int64_t paused_ns,
                int64_t started_ns, bool* committed) {
  // The point of no return: after `go` only the destination may run the VM.
  int64_t go_at = MonotonicNs();
  RETURN_IF_ERROR_CTX(streams.writer.Write(state::SectionType::kGo, 0, {}), "handing over");
  *committed = true;
  ASSIGN_OR_RETURN(Reply running, ReadReply(streams.reader, state::SectionType::kRunning));
  // One host shares CLOCK_MONOTONIC; across hosts the measured offset maps
  // the destination's clock onto ours.
  int64_t offset_ns = static_cast<int64_t>(report.clock_offset_ms * 1e6);
  bool same_host = report.downtime_clock == "same-host";
  int64_t resumed_ns = running.time_ns - (same_host ? 0 : offset_ns);
  report.downtime_ms = NsToMs(resumed_ns - paused_ns);
  report.switchover.handover_ms = NsToMs(MonotonicNs() - go_at);
  report.switchover.start_ms = NsToMs(resumed_ns - go_at);
  report.bytes_sent = streams.sink.bytes_written();
  report.total_ms = NsToMs(MonotonicNs() - started_ns);
  return OkStatus();
}

}  // namespace ferry::migration
