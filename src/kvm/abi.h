// C-layout headers for the KVM structures that end in a flexible array.
//
// linux/kvm.h declares those arrays with __DECLARE_FLEX_ARRAY, which wraps them
// in a struct holding an empty struct; C++ gives an empty struct a size of one
// byte, so in C++ the kernel's own types are larger than in C (kvm_cpuid2: 12
// bytes instead of 8). That moves the array off its ABI offset and changes the
// ioctl numbers that encode the size. ferry therefore lays these out itself and
// derives the ioctl numbers from the C sizes.
#pragma once

#include <linux/kvm.h>

#include <cstdint>

namespace ferry::kvm_abi {

struct CpuidHeader {  // struct kvm_cpuid2 without its entries
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(CpuidHeader) == 8);

struct MsrsHeader {  // struct kvm_msrs without its entries
  uint32_t nmsrs;
  uint32_t pad;
};
static_assert(sizeof(MsrsHeader) == 8);

struct MsrListHeader {  // struct kvm_msr_list without its indices
  uint32_t nmsrs;
};
static_assert(sizeof(MsrListHeader) == 4);

struct Xsave {  // struct kvm_xsave: the legacy 4 KiB region
  uint32_t region[1024];
};
static_assert(sizeof(Xsave) == 4096);

struct IrqRoutingHeader {  // struct kvm_irq_routing without its entries
  uint32_t nr;
  uint32_t flags;
};
static_assert(sizeof(IrqRoutingHeader) == 8);

inline constexpr unsigned long kGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
inline constexpr unsigned long kGetCpuid2 = _IOWR(KVMIO, 0x91, CpuidHeader);
inline constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, Xsave);
inline constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, Xsave);
inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, IrqRoutingHeader);

// A header followed by `count` elements of T, laid out as the kernel expects.
template <typename Header, typename T>
class FlexBuffer {
 public:
  explicit FlexBuffer(size_t count)
      : bytes_(sizeof(Header) + count * sizeof(T)), storage_(new uint64_t[(bytes_ + 7) / 8]()) {}
  ~FlexBuffer() { delete[] storage_; }
  FlexBuffer(const FlexBuffer&) = delete;
  FlexBuffer& operator=(const FlexBuffer&) = delete;

  void* data() { return storage_; }
  Header* header() { return reinterpret_cast<Header*>(storage_); }
  T* items() { return reinterpret_cast<T*>(reinterpret_cast<uint8_t*>(storage_) + sizeof(Header)); }

 private:
  size_t bytes_;
  uint64_t* storage_;
};

}  // namespace ferry::kvm_abi
