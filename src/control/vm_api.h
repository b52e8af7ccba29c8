// The control protocol served by a VMM process for its one VM.
#pragma once

#include <atomic>
#include <mutex>

#include "control/api_server.h"
#include "vm/virtual_machine.h"

namespace ferry {

class VmApiHandler final : public ApiHandler {
 public:
  explicit VmApiHandler(VirtualMachine* vm) : vm_(vm) {}
  Json Handle(const Json& request, const EventSink& emit) override;

 private:
  Json StatusReply() const;
  Json Snapshot(const Json& request);
  Json Migrate(const Json& request, const EventSink& emit);
  Json Cancel();
  VirtualMachine* vm_;
  // One migration or snapshot at a time; `cancel_` asks the running one to stop.
  std::mutex busy_;
  std::atomic<bool> migrating_{false};
  std::atomic<bool> cancel_{false};
};

}  // namespace ferry
