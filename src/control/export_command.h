// `ferry export`: a ferry VM (the vm.json ferry import writes) out to VMware
// (VMX + VMDKs, or an OVA) or libvirt (domain XML + qcow2). See
// docs/import.md, "ferry export (V2V back)".
#pragma once

namespace ferry {

int RunExportCommand(int argc, char** argv);

}  // namespace ferry
