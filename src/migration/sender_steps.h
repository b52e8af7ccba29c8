// The steps every sending mode shares: the opening handshake and the
// handover at the end (state-format.md, "Migration stream").
#pragma once

#include <cstdint>

#include "base/result.h"
#include "migration/migratable.h"
#include "migration/report.h"
#include "state/stream.h"

namespace ferry::migration {

class DiskSender;

struct SenderStreams {
  state::FdSink sink;
  state::FdSource source;
  state::SectionWriter writer{sink};
  state::SectionReader reader{source};
  int fd;
  uint64_t receiver_abilities = 0;  // from its accept
  explicit SenderStreams(int fd) : sink(fd), source(fd), fd(fd) {}
};

// TCP_CORK on the stream: with it, small sections (the device state, the
// last few pages) leave as full segments instead of one segment each, so the
// receiver wakes once, not per section; taking it off sends what is held.
void Cork(SenderStreams& streams, bool on);

// Header and machine configuration out, accept (or refuse) back. Fills the
// report's setup time and clock fields.
Status OpenStream(MigratableVm& vm, SenderStreams& streams, MigrationReport& report,
                  int64_t started_ns);

// Waits, with the guest still running, until the receiver has taken in
// everything sent so far (a `sync` out, `synced` back), so that what sits in
// socket buffers does not end up inside the downtime. Returns false, having
// done nothing, for a receiver that does not answer `sync`.
Result<bool> DrainToReceiver(SenderStreams& streams);

// After the accept: the disk plan out, the receiver's resume answer back.
Status OpenDisks(DiskSender& disks, SenderStreams& streams);

// With the VM paused and all memory sent: device state, end, and wait until
// the destination has loaded everything.
Status SendDevicesAndAwaitReady(MigratableVm& vm, SenderStreams& streams, SwitchoverPhases& phases);

// Sends `go` (after which the source never runs the VM again: *committed is
// set) and waits for `running`; fills downtime, bytes and total time.
Status HandOver(SenderStreams& streams, MigrationReport& report, int64_t paused_ns,
                int64_t started_ns, bool* committed);

// A peer that stops answering, or stops taking data without closing (a
// frozen host, a cut link), must not hang the source: reads and writes that
// make no progress for `ms` fail, and the guest goes on here.
void SetPeerTimeout(int fd, int ms);

}  // namespace ferry::migration
