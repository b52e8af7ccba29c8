#include <gtest/gtest.h>

#include <cstring>

#include "state/cpu_compat.h"
#include "state/fields.h"
#include "state/machine_state.h"
#include "state/memory_stream_test_util.h"
#include "state/stream.h"

namespace ferry::state {
namespace {

MachineState SampleState(uint32_t cpus) {
  MachineState s;
  s.config = {256u << 20, cpus, "dirtier --size 64M", {}};
  for (uint32_t i = 0; i < cpus; ++i) {
    VcpuState v;
    v.regs.rip = 0x1000 + i;
    v.xsave.assign(4096, static_cast<uint8_t>(i));
    v.msrs.push_back({0x10, 0, 12345});
    kvm_cpuid_entry2 e{};
    e.function = 1;
    e.ecx = 1u << 28;  // avx
    v.cpuid.push_back(e);
    s.vcpus.push_back(v);
  }
  s.chips.pit.channels[0].count = 0x1234;
  s.clock.clock.clock = 999;
  s.clock.realtime_ns = 42;
  s.serial.scr = 0x5a;
  return s;
}

std::vector<uint8_t> Encode(const MachineState& s) {
  MemoryStream sink;
  SectionWriter w(sink);
  EXPECT_TRUE(w.WriteFileHeader().ok());
  EXPECT_TRUE(WriteMachineConfig(w, s.config).ok());
  EXPECT_TRUE(WriteDeviceSections(w, s).ok());
  EXPECT_TRUE(w.WriteEnd().ok());
  return sink.bytes;
}

Result<MachineState> Decode(std::vector<uint8_t> bytes) {
  MemoryStream source(std::move(bytes));
  SectionReader r(source);
  RETURN_IF_ERROR(r.ReadFileHeader());
  ASSIGN_OR_RETURN(Section first, r.Next());
  ASSIGN_OR_RETURN(MachineConfig config, ReadMachineConfig(first));
  DeviceSectionCollector collector(config.cpus);
  for (;;) {
    ASSIGN_OR_RETURN(Section s, r.Next());
    if (s.header.type == static_cast<uint32_t>(SectionType::kEnd)) break;
    ASSIGN_OR_RETURN(bool taken, collector.Take(s));
    if (!taken) return Error(ErrorCode::kCorrupt, "unexpected " + s.name());
  }
  return collector.Finish(config);
}

TEST(MachineStateFormat, RoundTrips) {
  Result<MachineState> back = Decode(Encode(SampleState(2)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->config.cmdline, "dirtier --size 64M");
  EXPECT_EQ(back->vcpus[1].regs.rip, 0x1001u);
  EXPECT_EQ(back->vcpus[1].xsave[7], 1);
  EXPECT_EQ(back->vcpus[0].msrs.at(0).data, 12345u);
  EXPECT_EQ(back->chips.pit.channels[0].count, 0x1234u);
  EXPECT_EQ(back->clock.realtime_ns, 42);
  EXPECT_EQ(back->serial.scr, 0x5a);
}

TEST(MachineStateFormat, EveryFlippedByteIsCaught) {
  std::vector<uint8_t> good = Encode(SampleState(1));
  // Flip one bit in every byte in turn: each must fail to decode, never crash.
  for (size_t i = 0; i < good.size(); i += 7) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x10;
    EXPECT_FALSE(Decode(bad).ok()) << "flip at " << i << " went unnoticed";
  }
}

TEST(MachineStateFormat, TruncationIsCaught) {
  std::vector<uint8_t> good = Encode(SampleState(1));
  for (size_t len : {size_t{0}, size_t{10}, size_t{40}, good.size() / 2, good.size() - 1}) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(len));
    Result<MachineState> r = Decode(cut);
    ASSERT_FALSE(r.ok());
  }
}

TEST(MachineStateFormat, NamesTheCorruptSection) {
  std::vector<uint8_t> bytes = Encode(SampleState(1));
  bytes[bytes.size() - 30] ^= 1;  // inside the serial section
  Result<MachineState> r = Decode(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("'serial'"), std::string::npos) << r.error().message();
}

TEST(MachineStateFormat, RefusesNewerSectionVersions) {
  MemoryStream sink;
  SectionWriter w(sink);
  ASSERT_TRUE(w.WriteFileHeader().ok());
  ASSERT_TRUE(w.WriteEnd().ok());
  std::vector<uint8_t> bytes = sink.bytes;
  bytes[kFileHeaderSize + 4] = 9;  // version of the End section
  MemoryStream source(bytes);
  SectionReader r(source);
  ASSERT_TRUE(r.ReadFileHeader().ok());
  Result<Section> s = r.Next();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("version 9"), std::string::npos);
}

TEST(Fields, DuplicatesAndOverrunsAreRefused) {
  FieldWriter w;
  w.Put<uint32_t>(1, 7);
  w.Put<uint32_t>(1, 8);
  EXPECT_FALSE(FieldReader::Parse(w.bytes(), "x").ok());
  FieldWriter ok;
  ok.Put<uint64_t>(2, 9);
  std::vector<uint8_t> bytes = ok.bytes();
  bytes[4] = 200;  // length past the end
  EXPECT_FALSE(FieldReader::Parse(bytes, "x").ok());
  Result<FieldReader> r = FieldReader::Parse(ok.bytes(), "x");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->Get<uint32_t>(2).ok());    // wrong size
  EXPECT_EQ(*r->GetOr<uint32_t>(3, 5), 5u);  // absent: default
}

TEST(CpuCompat, NamesMissingFeatures) {
  kvm_cpuid_entry2 guest{}, host{};
  guest.function = host.function = 7;
  guest.flags = host.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  guest.ebx = (1u << 5) | (1u << 3);  // avx2, bmi1
  host.ebx = 1u << 3;
  std::vector<std::string> missing = MissingCpuFeatures({guest}, {host});
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], "avx2");
  EXPECT_TRUE(MissingCpuFeatures({host}, {host}).empty());
}

}  // namespace
}  // namespace ferry::state
