#include "migration/offline_receiver.h"

#include <sys/socket.h>

#include "base/clock.h"
#include "migration/handshake.h"
#include "migration/page_batch.h"
#include "state/disk_plan.h"

namespace ferry::migration {
namespace {

// The sender may pause for a long time on a large guest, but not forever.
constexpr int kStreamTimeoutMs = 120'000;

}  // namespace

OfflineReceiver::OfflineReceiver(int fd)
    : fd_(fd), sink_(fd), source_(fd), writer_(sink_), reader_(source_) {
  timeval tv{kStreamTimeoutMs / 1000, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

Result<state::MachineState> OfflineReceiver::Receive(const AdmitFn& admit, DiskReceiver& disks,
                                                     const DisksPlannedFn& planned) {
  RETURN_IF_ERROR(reader_.ReadFileHeader());
  ASSIGN_OR_RETURN(state::Section first, reader_.Next());
  ASSIGN_OR_RETURN(state::MachineConfig config, state::ReadMachineConfig(first));
  Result<GuestMemory*> memory = admit(config);
  if (!memory.ok()) {
    Refuse(memory.error().message());
    return std::move(memory).error();
  }
  RETURN_IF_ERROR(SendAccept(writer_, MonotonicNs()));

  state::DeviceSectionCollector devices(config);
  for (;;) {
    ASSIGN_OR_RETURN(state::SectionHeader header, reader_.NextHeader());
    auto type = static_cast<state::SectionType>(header.type);
    if (type == state::SectionType::kPages) {
      RETURN_IF_ERROR(ReceivePageBatch(reader_, header.length, **memory));
      continue;
    }
    if (type == state::SectionType::kDiskChunks) {
      RETURN_IF_ERROR(disks.Receive(reader_, header));
      continue;
    }
    state::Section section{header, std::vector<uint8_t>(header.length)};
    RETURN_IF_ERROR(reader_.ReadPiece(section.payload));
    RETURN_IF_ERROR(reader_.Finish());
    if (type == state::SectionType::kEnd) break;
    if (type == state::SectionType::kSync) {
      // Every page before this one is in guest memory: the sender may pause
      // now. The disk copies are made durable first, while the guest still
      // runs at the source, so that the flush at the handover (inside the
      // downtime) covers only the chunks sent after this.
      RETURN_IF_ERROR(disks.SaveProgress());
      RETURN_IF_ERROR(writer_.Write(state::SectionType::kSynced, 0, {}));
      continue;
    }
    if (type == state::SectionType::kDiskPlan) {
      RETURN_IF_ERROR(AnswerDiskPlan(section, disks, planned, &*memory));
      continue;
    }
    ASSIGN_OR_RETURN(bool taken, devices.Take(section));
    if (!taken) {
      return Error(ErrorCode::kCorrupt,
                   "section '" + section.name() + "' does not belong in a migration stream");
    }
  }
  return devices.Finish(config);
}

Status OfflineReceiver::AnswerDiskPlan(const state::Section& section, DiskReceiver& disks,
                                       const DisksPlannedFn& planned, GuestMemory** memory) {
  ASSIGN_OR_RETURN(std::vector<state::DiskPlanEntry> plan, state::ReadDiskPlan(section));
  Result<std::vector<state::DiskResumeEntry>> answers = disks.Prepare(plan);
  if (answers.ok() && planned) {
    Result<GuestMemory*> created = planned(disks);
    if (!created.ok()) {
      answers = std::move(created).error();
    } else {
      *memory = *created;
    }
  }
  if (!answers.ok()) {
    Refuse(answers.error().message());
    return std::move(answers).error();
  }
  return state::WriteDiskResume(writer_, answers.value());
}

void OfflineReceiver::Refuse(const std::string& reason) {
  (void)SendRefuse(writer_, reason);
}

Status OfflineReceiver::ReadyAndAwaitGo() {
  RETURN_IF_ERROR(SendReady());
  return AwaitGo();
}

Status OfflineReceiver::SendReady() {
  return writer_.Write(state::SectionType::kReady, 0, {});
}

Status OfflineReceiver::AwaitGo() {
  Result<Reply> go = ReadReply(reader_, state::SectionType::kGo);
  if (!go.ok()) {
    return std::move(go).error().WithContext("the source did not hand the VM over");
  }
  return OkStatus();
}

Status OfflineReceiver::ConfirmRunning(int64_t resumed_at_ns) {
  return SendRunning(writer_, resumed_at_ns);
}

}  // namespace ferry::migration
