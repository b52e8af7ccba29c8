// `ferry receive` on a hostile migration stream: whatever a peer that
// connects to --listen sends, the receiver must refuse it with an error, never
// crash, hang or write outside the memory and disk it prepared. The input is
// the byte stream from the source; the receiver's replies are read and
// dropped. Machines over 64 MiB are refused at admission, as a host without
// that much memory would.
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <thread>

#include "fuzz_util.h"
#include "migration/disk_receiver.h"
#include "migration/offline_receiver.h"

namespace {

constexpr uint64_t kMaxMemory = 64ull << 20;

void WriteAll(int fd, const uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n <= 0) return;  // the receiver gave up and closed: the rest is not read
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 0;
  // The disk a plan may name: a scratch file the receiver may create and fill.
  std::string disk = fuzz::ScratchFile(nullptr, 0, "target.img");
  ::unlink(disk.c_str());  // each input starts with no target and no partial copy
  ::unlink((disk + ".ferry-partial").c_str());
  std::thread source([&] {
    WriteAll(fds[0], data, size);
    ::shutdown(fds[0], SHUT_WR);
    char reply[4096];
    while (::read(fds[0], reply, sizeof reply) > 0) {
    }
  });
  {
    std::optional<GuestMemory> memory;
    migration::DiskReceiver disks({disk});
    migration::OfflineReceiver receiver(fds[1]);
    Result<state::MachineState> state = receiver.Receive(
        [&](const state::MachineConfig& config) -> Result<GuestMemory*> {
          if (config.memory_bytes > kMaxMemory) {
            return Error(ErrorCode::kResourceExhausted, "too large for the fuzzer");
          }
          ASSIGN_OR_RETURN(GuestMemory created, GuestMemory::Create(config.memory_bytes));
          memory.emplace(std::move(created));
          return &*memory;
        },
        disks,
        [&](const migration::DiskReceiver&) -> Result<GuestMemory*> {
          if (!memory) return Error(ErrorCode::kInternal, "no memory");
          return &*memory;
        });
    if (state.ok()) (void)receiver.SendReady();
  }
  ::shutdown(fds[1], SHUT_RDWR);
  source.join();
  ::close(fds[0]);
  ::close(fds[1]);
  return 0;
}
