// Will a guest keep every CPU feature it was started with on this host?
// Compares the guest's CPUID view with what this host's KVM can offer.
#pragma once

#include <linux/kvm.h>

#include <string>
#include <vector>

namespace ferry::state {

// Names of the features the guest has and the host cannot give, e.g. "avx2".
// Empty when the guest is safe to run here.
std::vector<std::string> MissingCpuFeatures(const std::vector<kvm_cpuid_entry2>& guest,
                                            const std::vector<kvm_cpuid_entry2>& host);

}  // namespace ferry::state
