#include "migration/handshake.h"

#include "state/fields.h"

namespace ferry::migration {
namespace {

enum ReplyField : uint16_t { kTimeNs = 1, kMessage = 2 };

Status SendTimed(state::SectionWriter& writer, state::SectionType type, int64_t time_ns) {
  state::FieldWriter f;
  f.Put<int64_t>(kTimeNs, time_ns);
  return writer.Write(type, 0, f.bytes());
}

}  // namespace

Status SendAccept(state::SectionWriter& writer, int64_t receiver_now_ns) {
  return SendTimed(writer, state::SectionType::kAccept, receiver_now_ns);
}

Status SendRunning(state::SectionWriter& writer, int64_t resumed_at_ns) {
  return SendTimed(writer, state::SectionType::kRunning, resumed_at_ns);
}

Status SendRefuse(state::SectionWriter& writer, const std::string& reason) {
  state::FieldWriter f;
  f.PutString(kMessage, reason);
  return writer.Write(state::SectionType::kRefuse, 0, f.bytes());
}

Result<Reply> ReadReply(state::SectionReader& reader, state::SectionType expected) {
  ASSIGN_OR_RETURN(state::Section section, reader.Next());
  ASSIGN_OR_RETURN(state::FieldReader f,
                   state::FieldReader::Parse(section.payload, section.name()));
  auto type = static_cast<state::SectionType>(section.header.type);
  if (type == state::SectionType::kRefuse) {
    ASSIGN_OR_RETURN(std::string message, f.GetString(kMessage, 4096));
    return Error(ErrorCode::kFailedPrecondition, "the destination refused: " + message);
  }
  if (type != expected) {
    return Error(ErrorCode::kCorrupt, "expected '" +
                                          state::SectionName(static_cast<uint32_t>(expected)) +
                                          "', the peer sent '" + section.name() + "'");
  }
  Reply reply{type, 0, {}};
  if (f.Has(kTimeNs)) {
    ASSIGN_OR_RETURN(reply.time_ns, f.Get<int64_t>(kTimeNs));
  }
  return reply;
}

}  // namespace ferry::migration
