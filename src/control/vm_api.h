// The control protocol served by a VMM process for its one VM.
#pragma once

#include "control/api_server.h"
#include "vm/virtual_machine.h"

namespace ferry {

class VmApiHandler final : public ApiHandler {
 public:
  explicit VmApiHandler(VirtualMachine* vm) : vm_(vm) {}
  Json Handle(const Json& request) override;

 private:
  Json StatusReply() const;
  Json Snapshot(const Json& request);
  Json Migrate(const Json& request);
  VirtualMachine* vm_;
};

}  // namespace ferry
