#include "state/virtio_state.h"

#include <gtest/gtest.h>

#include "devices/virtio/virtio_spec.h"
#include "state/machine_state.h"
#include "state/memory_stream_test_util.h"

namespace ferry::state {
namespace {

MachineState Sample() {
  MachineState s;
  s.config = {256u << 20, 1, "idle", {}};
  s.config.devices = {{virtio::kDeviceBlock, DeviceDescriptor::kReadOnly}, {virtio::kDeviceRng, 0}};
  s.vcpus.resize(1);
  s.vcpus[0].xsave.assign(4096, 0);
  for (const DeviceDescriptor& d : s.config.devices) {
    VirtioDeviceState v;
    v.transport.device_type = d.type;
    v.transport.status = 0x0f;
    v.transport.driver_features = 1ull << 32;
    v.transport.config.bytes[0x3c] = 16;
    QueueState q;
    q.size = 128;
    q.last_avail_idx = 7;
    q.used_idx = 7;
    v.transport.queues.push_back(q);
    v.transport.msix.table.resize(2);
    v.transport.msix.pending = 2;
    v.block = {2048, d.flags != 0, d.type == virtio::kDeviceBlock ? "ferry-1234" : ""};
    s.devices.push_back(v);
  }
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

Result<MachineState> Decode(std::vector<uint8_t> bytes, std::vector<uint32_t> skip = {}) {
  MemoryStream source(std::move(bytes));
  SectionReader r(source);
  RETURN_IF_ERROR(r.ReadFileHeader());
  ASSIGN_OR_RETURN(Section first, r.Next());
  ASSIGN_OR_RETURN(MachineConfig config, ReadMachineConfig(first));
  DeviceSectionCollector collector(config);
  for (;;) {
    ASSIGN_OR_RETURN(Section s, r.Next());
    if (s.header.type == static_cast<uint32_t>(SectionType::kEnd)) break;
    if (std::find(skip.begin(), skip.end(), s.header.type) != skip.end()) continue;
    ASSIGN_OR_RETURN(bool taken, collector.Take(s));
    if (!taken) return Error(ErrorCode::kCorrupt, "unexpected " + s.name());
  }
  return collector.Finish(config);
}

TEST(VirtioState, RoundTrips) {
  Result<MachineState> back = Decode(Encode(Sample()));
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->config.devices.size(), 2u);
  EXPECT_EQ(back->config.devices[0].flags, DeviceDescriptor::kReadOnly);
  ASSERT_EQ(back->devices.size(), 2u);
  const VirtioPciState& t = back->devices[0].transport;
  EXPECT_EQ(t.status, 0x0f);
  EXPECT_EQ(t.driver_features, 1ull << 32);
  EXPECT_EQ(t.config.bytes[0x3c], 16);
  EXPECT_EQ(t.queues.at(0).last_avail_idx, 7);
  EXPECT_EQ(t.msix.table.size(), 2u);
  EXPECT_EQ(t.msix.pending, 2u);
  EXPECT_EQ(back->devices[0].block.serial, "ferry-1234");
  EXPECT_TRUE(back->devices[0].block.read_only);
  EXPECT_EQ(back->devices[1].transport.device_type, virtio::kDeviceRng);
}

TEST(VirtioState, MissingOrMismatchedSectionsAreRefused) {
  Result<MachineState> no_blk =
      Decode(Encode(Sample()), {static_cast<uint32_t>(SectionType::kVirtioBlk)});
  ASSERT_FALSE(no_blk.ok());
  EXPECT_NE(no_blk.error().message().find("'virtio-blk'"), std::string::npos);
  MachineState s = Sample();
  s.devices[1].transport.device_type = virtio::kDeviceBlock;  // differs from the list
  EXPECT_FALSE(Decode(Encode(s)).ok());
  MachineState unknown = Sample();
  unknown.config.devices[1].type = 99;
  EXPECT_FALSE(Decode(Encode(unknown)).ok());
}

TEST(VirtioState, EveryFlippedByteIsCaught) {
  std::vector<uint8_t> good = Encode(Sample());
  for (size_t i = 0; i < good.size(); i += 13) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x08;
    EXPECT_FALSE(Decode(bad).ok()) << "flip at " << i;
  }
}

TEST(VirtioState, MachinesWithoutDevicesStayAsBefore) {
  MachineState s = Sample();
  s.config.devices.clear();
  s.devices.clear();
  Result<MachineState> back = Decode(Encode(s));
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_TRUE(back->devices.empty());
}

}  // namespace
}  // namespace ferry::state
