// `ferry import`: a foreign VM (VMware VMX, OVA/OVF, libvirt domain XML)
// into a ferry VM directory. See docs/import.md.
#pragma once

namespace ferry {

int RunImportCommand(int argc, char** argv);

}  // namespace ferry
