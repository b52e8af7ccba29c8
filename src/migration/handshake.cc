#include "migration/handshake.h"

#include <fstream>

#include "state/fields.h"

namespace ferry::migration {
namespace {

enum ReplyField : uint16_t { kTimeNs = 1, kMessage = 2, kBootId = 3, kAbilities = 4 };

Status SendTimed(state::SectionWriter& writer, state::SectionType type, int64_t time_ns) {
  state::FieldWriter f;
  f.Put<int64_t>(kTimeNs, time_ns);
  return writer.Write(type, 0, f.bytes());
}

}  // namespace

std::string KernelBootId() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

Status SendAccept(state::SectionWriter& writer, int64_t receiver_now_ns) {
  state::FieldWriter f;
  f.Put<int64_t>(kTimeNs, receiver_now_ns);
  f.PutString(kBootId, KernelBootId());
  f.Put<uint64_t>(kAbilities, kReceiverSyncs);
  return writer.Write(state::SectionType::kAccept, 0, f.bytes());
}

Status SendRunning(state::SectionWriter& writer, int64_t resumed_at_ns) {
  return SendTimed(writer, state::SectionType::kRunning, resumed_at_ns);
}

Status SendRefuse(state::SectionWriter& writer, const std::string& reason) {
  state::FieldWriter f;
  f.PutString(kMessage, reason);
  return writer.Write(state::SectionType::kRefuse, 0, f.bytes());
}

Result<state::Section> ReadReplySection(state::SectionReader& reader, state::SectionType expected) {
  ASSIGN_OR_RETURN(state::Section section, reader.Next());
  auto type = static_cast<state::SectionType>(section.header.type);
  if (type == state::SectionType::kRefuse) {
    ASSIGN_OR_RETURN(state::FieldReader f,
                     state::FieldReader::Parse(section.payload, section.name()));
    ASSIGN_OR_RETURN(std::string message, f.GetString(kMessage, 4096));
    return Error(ErrorCode::kFailedPrecondition, "the destination refused: " + message);
  }
  if (type != expected) {
    return Error(ErrorCode::kCorrupt, "expected '" +
                                          state::SectionName(static_cast<uint32_t>(expected)) +
                                          "', the peer sent '" + section.name() + "'");
  }
  return section;
}

Result<Reply> ReadReply(state::SectionReader& reader, state::SectionType expected) {
  ASSIGN_OR_RETURN(state::Section section, ReadReplySection(reader, expected));
  ASSIGN_OR_RETURN(state::FieldReader f,
                   state::FieldReader::Parse(section.payload, section.name()));
  Reply reply{expected, 0, {}, {}};
  if (f.Has(kBootId)) {
    ASSIGN_OR_RETURN(reply.boot_id, f.GetString(kBootId, 64));
  }
  if (f.Has(kTimeNs)) {
    ASSIGN_OR_RETURN(reply.time_ns, f.Get<int64_t>(kTimeNs));
  }
  if (f.Has(kAbilities)) {
    ASSIGN_OR_RETURN(reply.abilities, f.Get<uint64_t>(kAbilities));
  }
  return reply;
}

}  // namespace ferry::migration
