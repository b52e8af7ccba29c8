// The 'virtio-net' section (16): round trip, presence and hostile contents.
#include <gtest/gtest.h>

#include "devices/virtio/net.h"
#include "devices/virtio/virtio_spec.h"
#include "state/machine_state.h"
#include "state/memory_stream_test_util.h"
#include "state/virtio_state.h"

namespace ferry::state {
namespace {

MachineState WithNic(MacAddress mac) {
  MachineState s;
  s.config = {64u << 20, 1, "netecho", {}};
  s.config.devices = {{virtio_net::kDeviceNet, 0}};
  s.vcpus.resize(1);
  s.vcpus[0].xsave.assign(4096, 0);
  VirtioDeviceState v;
  v.transport.device_type = virtio_net::kDeviceNet;
  v.transport.queues.resize(2);
  v.net = {mac, virtio_net::kLinkUp, 0x10020};
  s.devices.push_back(v);
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

Result<MachineState> Decode(std::vector<uint8_t> bytes, uint32_t skip = 0) {
  MemoryStream source(std::move(bytes));
  SectionReader r(source);
  RETURN_IF_ERROR(r.ReadFileHeader());
  ASSIGN_OR_RETURN(Section first, r.Next());
  ASSIGN_OR_RETURN(MachineConfig config, ReadMachineConfig(first));
  DeviceSectionCollector collector(config);
  for (;;) {
    ASSIGN_OR_RETURN(Section s, r.Next());
    if (s.header.type == static_cast<uint32_t>(SectionType::kEnd)) break;
    if (s.header.type == skip) continue;
    ASSIGN_OR_RETURN(bool taken, collector.Take(s));
    if (!taken) return Error(ErrorCode::kCorrupt, "unexpected " + s.name());
  }
  return collector.Finish(config);
}

TEST(VirtioNetState, RoundTrips) {
  MacAddress mac = {0x52, 0x54, 0x00, 0x01, 0x02, 0x03};
  Result<MachineState> back = Decode(Encode(WithNic(mac)));
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->devices.size(), 1u);
  EXPECT_EQ(back->devices[0].net.mac, mac);
  EXPECT_EQ(back->devices[0].net.status, virtio_net::kLinkUp);
  EXPECT_EQ(back->devices[0].net.features, 0x10020u);
  EXPECT_EQ(SectionName(16), "virtio-net");
}

TEST(VirtioNetState, MissingOrHostileSectionsAreRefused) {
  Result<MachineState> missing = Decode(Encode(WithNic({0x52, 0x54, 0, 0, 0, 1})), 16);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("'virtio-net'"), std::string::npos);
  Result<MachineState> multicast = Decode(Encode(WithNic({0x01, 0, 0x5e, 0, 0, 1})));
  ASSERT_FALSE(multicast.ok());
  EXPECT_NE(multicast.error().message().find("multicast"), std::string::npos);
  std::vector<uint8_t> good = Encode(WithNic({0x52, 0x54, 0, 0, 0, 1}));
  for (size_t i = 0; i < good.size(); i += 7) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x20;
    EXPECT_FALSE(Decode(bad).ok()) << "flip at " << i;
  }
}

}  // namespace
}  // namespace ferry::state
