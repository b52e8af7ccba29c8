// The small messages both ends of a migration exchange around the state
// stream: accept/refuse, ready, go, running. Each is one section.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "state/stream.h"

namespace ferry::migration {

// What a receiver can do beyond the first version of the stream, announced in
// its accept (an older receiver announces nothing, and is not asked).
inline constexpr uint64_t kReceiverSyncs = 1;  // answers `sync` with `synced`

// The receiver's clock reading, its kernel boot id (the same boot id means
// both ends share CLOCK_MONOTONIC, so downtime needs no clock correction) and
// what it can do.
Status SendAccept(state::SectionWriter& writer, int64_t receiver_now_ns);
std::string KernelBootId();
Status SendRefuse(state::SectionWriter& writer, const std::string& reason);
Status SendRunning(state::SectionWriter& writer, int64_t resumed_at_ns);

struct Reply {
  state::SectionType type;
  int64_t time_ns = 0;     // accept: receiver's clock; running: when it resumed
  std::string message;     // refuse: why
  std::string boot_id;     // accept: the receiver's kernel boot id
  uint64_t abilities = 0;  // accept: kReceiverSyncs, ...
};

// Reads the next section and checks it is `expected`; a refusal becomes an
// error carrying the receiver's reason.
Result<state::Section> ReadReplySection(state::SectionReader& reader, state::SectionType expected);

// Reads the next reply section and checks it is one of `expected` or a refusal.
Result<Reply> ReadReply(state::SectionReader& reader, state::SectionType expected);

}  // namespace ferry::migration
