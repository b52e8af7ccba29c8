#include "state/cpu_compat.h"

#include <cstdio>

namespace ferry::state {
namespace {

enum Reg { kEax, kEbx, kEcx, kEdx };

struct FeatureWord {
  uint32_t function;
  uint32_t index;
  Reg reg;
  uint32_t ignored;  // bits that reflect guest state or that ferry sets itself
  const char* names[32];
};

// Feature bits from the Intel SDM / AMD APM CPUID tables (names as in /proc/cpuinfo).
const FeatureWord kWords[] = {
    {1,
     0,
     kEdx,
     1u << 9 /* apic: per-vCPU */,
     {"fpu",  "vme",  "de",   "pse", "tsc",  "msr", "pae",   "mce", "cx8",     "apic",  nullptr,
      "sep",  "mtrr", "pge",  "mca", "cmov", "pat", "pse36", "pn",  "clflush", nullptr, "dts",
      "acpi", "mmx",  "fxsr", "sse", "sse2", "ss",  "ht",    "tm",  "ia64",    "pbe"}},
    {1,
     0,
     kEcx,
     (1u << 27) | (1u << 31) /* osxsave follows CR4; hypervisor is ours */,
     {"pni",    "pclmulqdq", "dtes64",  "monitor", "ds_cpl",
      "vmx",    "smx",       "est",     "tm2",     "ssse3",
      "cid",    "sdbg",      "fma",     "cx16",    "xtpr",
      "pdcm",   nullptr,     "pcid",    "dca",     "sse4_1",
      "sse4_2", "x2apic",    "movbe",   "popcnt",  "tsc_deadline_timer",
      "aes",    "xsave",     "osxsave", "avx",     "f16c",
      "rdrand", "hypervisor"}},
    {7, 0, kEbx, 0, {"fsgsbase",
                     "tsc_adjust",
                     "sgx",
                     "bmi1",
                     "hle",
                     "avx2",
                     "fdp_excptn_only",
                     "smep",
                     "bmi2",
                     "erms",
                     "invpcid",
                     "rtm",
                     "pqm",
                     "zero_fcs_fds",
                     "mpx",
                     "rdt_a",
                     "avx512f",
                     "avx512dq",
                     "rdseed",
                     "adx",
                     "smap",
                     "avx512ifma",
                     "pcommit",
                     "clflushopt",
                     "clwb",
                     "intel_pt",
                     "avx512pf",
                     "avx512er",
                     "avx512cd",
                     "sha_ni",
                     "avx512bw",
                     "avx512vl"}},
    {7,
     0,
     kEcx,
     1u << 4 /* ospke follows CR4 */,
     {"prefetchwt1", "avx512vbmi",   "umip",          "pku",       "ospke",
      "waitpkg",     "avx512_vbmi2", "cet_ss",        "gfni",      "vaes",
      "vpclmulqdq",  "avx512_vnni",  "avx512_bitalg", "tme",       "avx512_vpopcntdq",
      nullptr,       "la57",         nullptr,         nullptr,     nullptr,
      nullptr,       nullptr,        "rdpid",         "kl",        "bus_lock_detect",
      "cldemote",    nullptr,        "movdiri",       "movdir64b", "enqcmd",
      "sgx_lc",      "pks"}},
    {0x80000001, 0, kEcx, 0, {"lahf_lm", "cmp_legacy", "svm",         "extapic",       "cr8_legacy",
                              "abm",     "sse4a",      "misalignsse", "3dnowprefetch", "osvw",
                              "ibs",     "xop",        "skinit",      "wdt",           nullptr,
                              "lwp",     "fma4",       "tce",         nullptr,         "nodeid_msr",
                              nullptr,   "tbm",        "topoext",     "perfctr_core",  "perfctr_nb",
                              nullptr,   "bpext",      "ptsc",        "perfctr_llc",   "mwaitx",
                              nullptr,   nullptr}},
    {0x80000001, 0, kEdx, 0, {nullptr,    nullptr,    nullptr,   nullptr,  nullptr,  nullptr,
                              nullptr,    nullptr,    nullptr,   nullptr,  nullptr,  "syscall",
                              nullptr,    nullptr,    nullptr,   nullptr,  nullptr,  nullptr,
                              nullptr,    "mp",       "nx",      nullptr,  "mmxext", nullptr,
                              nullptr,    "fxsr_opt", "pdpe1gb", "rdtscp", nullptr,  "lm",
                              "3dnowext", "3dnow"}},
    {0xd,
     0,
     kEax,
     0,
     {"xsave.x87",
      "xsave.sse",
      "xsave.avx",
      "xsave.bndregs",
      "xsave.bndcsr",
      "xsave.opmask",
      "xsave.zmm_hi256",
      "xsave.hi16_zmm",
      "xsave.pt",
      "xsave.pkru",
      nullptr,
      "xsave.cet_u",
      "xsave.cet_s",
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      "xsave.amx_tilecfg",
      "xsave.amx_tiledata",
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr,
      nullptr}},
    {0xd, 1, kEax, 0, {"xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd",   nullptr, nullptr,
                       nullptr,    nullptr,  nullptr,   nullptr,  nullptr, nullptr, nullptr,
                       nullptr,    nullptr,  nullptr,   nullptr,  nullptr, nullptr, nullptr,
                       nullptr,    nullptr,  nullptr,   nullptr,  nullptr, nullptr, nullptr,
                       nullptr,    nullptr,  nullptr,   nullptr}},
};

const kvm_cpuid_entry2* Find(const std::vector<kvm_cpuid_entry2>& entries, uint32_t function,
                             uint32_t index) {
  for (const kvm_cpuid_entry2& e : entries) {
    bool indexed = (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0;
    if (e.function == function && (!indexed || e.index == index)) return &e;
  }
  return nullptr;
}

uint32_t Value(const kvm_cpuid_entry2* e, Reg reg) {
  if (e == nullptr) return 0;
  switch (reg) {
    case kEax:
      return e->eax;
    case kEbx:
      return e->ebx;
    case kEcx:
      return e->ecx;
    case kEdx:
      return e->edx;
  }
  return 0;
}

}  // namespace

std::vector<std::string> MissingCpuFeatures(const std::vector<kvm_cpuid_entry2>& guest,
                                            const std::vector<kvm_cpuid_entry2>& host) {
  std::vector<std::string> missing;
  for (const FeatureWord& word : kWords) {
    uint32_t wanted = Value(Find(guest, word.function, word.index), word.reg) & ~word.ignored;
    uint32_t offered = Value(Find(host, word.function, word.index), word.reg);
    uint32_t lacking = wanted & ~offered;
    for (int bit = 0; bit < 32; ++bit) {
      if ((lacking & (1u << bit)) == 0) continue;
      if (word.names[bit] != nullptr) {
        missing.emplace_back(word.names[bit]);
      } else {
        static constexpr const char* kRegNames[] = {"eax", "ebx", "ecx", "edx"};
        char name[48];
        std::snprintf(name, sizeof name, "cpuid.%x.%u.%s[%d]", word.function, word.index,
                      kRegNames[word.reg], bit);
        missing.emplace_back(name);
      }
    }
  }
  return missing;
}

}  // namespace ferry::state
