// netblast --dst-ip A.B.C.D --ip A.B.C.D [--dst-mac M] [--port P] [--src-port P]
//          [--size BYTES] [--duration S] [--net N] [--heartbeat-ms M]
//
// Sends UDP datagrams of --size payload bytes to dst-ip:port as fast as the transmit
// queue takes them and reports packets per second. The destination MAC is resolved by
// ARP unless given. ARP requests for --ip are answered meanwhile. Runs on CPU 0.
#include "rt/console.h"
#include "rt/exit.h"
#include "rt/format.h"
#include "rt/kvmclock.h"
#include "rt/virtio_net.h"
#include "rt/x86.h"
#include "workloads/net_frames.h"
#include "workloads/virtio_common.h"
#include "workloads/workload.h"

namespace guest {
namespace {

constexpr const char* kName = "netblast";
constexpr uint64_t kArpRetryNs = 200'000'000;
constexpr uint64_t kArpTimeoutNs = 5'000'000'000;
constexpr int kBatch = 32;  // frames queued per kick

struct Config {
  virtio::Transport* transport = nullptr;
  net::Ip ip{}, dst_ip{};
  net::Mac dst_mac{};
  bool have_dst_mac = false;
  uint16_t port = 9;
  uint16_t src_port = 9;
  uint32_t size = 64;
  uint64_t duration_ns = 0;
  uint64_t heartbeat_ns = 0;
};

constinit Config g_config;
constinit virtio::NetDevice g_net;
constinit net::Mac g_mac{};

void parse_ip_option(Args& args, const char* name, net::Ip* out) {
  const char* text = args.text(name, nullptr);
  if (text == nullptr) fatal(kExitBadConfig, "netblast needs --%s A.B.C.D", name);
  if (!net::parse_ip(text, out)) {
    fatal(kExitBadConfig, "bad value \"%s\" for --%s (expected A.B.C.D)", text, name);
  }
}

void configure(Args& args, const Machine& machine) {
  parse_ip_option(args, "dst-ip", &g_config.dst_ip);
  parse_ip_option(args, "ip", &g_config.ip);
  if (const char* mac = args.text("dst-mac", nullptr)) {
    if (!net::parse_mac(mac, &g_config.dst_mac)) {
      fatal(kExitBadConfig, "bad value \"%s\" for --dst-mac (expected 52:54:00:12:34:56)", mac);
    }
    g_config.have_dst_mac = true;
  }
  g_config.port = static_cast<uint16_t>(args.number("port", 9, 1, 65535));
  g_config.src_port = static_cast<uint16_t>(args.number("src-port", 9, 1, 65535));
  g_config.size = static_cast<uint32_t>(
      args.number("size", 64, 8, virtio::NetDevice::kMaxFrame - net::kUdpPayload));
  Duration d = args.duration("duration", Duration{false, 5'000'000'000});
  if (d.forever || d.ns == 0) fatal(kExitBadConfig, "--duration must be a number of seconds");
  g_config.duration_ns = d.ns;
  g_config.heartbeat_ns = args.number("heartbeat-ms", 0, 0, 3'600'000) * 1'000'000;
  int index = static_cast<int>(args.number("net", 0, 0, 63));
  g_config.transport = &open_virtio_device(kName, args, machine, virtio::kTypeNet, index);
}

// Answers ARP requests for our address; returns true when an ARP reply from dst-ip
// arrived (and records its MAC).
bool drain_rx() {
  bool resolved = false;
  const uint8_t* frame;
  uint32_t length;
  int buffer;
  while (g_net.receive(&frame, &length, &buffer)) {
    net::Kind kind = net::classify(frame, length, g_config.ip);
    if (kind == net::Kind::kArpRequest) {
      if (uint8_t* out = g_net.tx_frame()) {
        g_net.send(net::make_reply(kind, frame, length, g_mac, g_config.ip, out));
      }
    } else if (kind == net::Kind::kArpReply && !g_config.have_dst_mac) {
      net::Mac mac;
      net::Ip ip;
      net::arp_sender(frame, &mac, &ip);
      if (ip == g_config.dst_ip) {
        g_config.dst_mac = mac;
        resolved = true;
      }
    }
    g_net.recycle(buffer);
  }
  g_net.flush();
  return resolved;
}

void resolve() {
  uint64_t start = clock::now_ns();
  uint64_t next = start;
  for (;;) {
    uint64_t now = clock::now_ns();
    if (now - start > kArpTimeoutNs) {
      char ip[16];
      fatal_for(kName, kExitInternal, "no ARP reply from %s within 5 s",
                net::format_ip(g_config.dst_ip, ip));
    }
    if (now >= next) {
      if (uint8_t* out = g_net.tx_frame()) {
        g_net.send(net::build_arp(out, 1, g_mac, g_config.ip, net::kBroadcast, g_config.dst_ip));
        g_net.flush();
      }
      next = now + kArpRetryNs;
    }
    if (drain_rx()) return;
    beat_poll();
    x86::pause();
  }
}

uint32_t run(int cpu) {
  if (cpu != 0) return kExitPass;
  g_net.open(*g_config.transport);
  __builtin_memcpy(g_mac.b, g_net.mac(), 6);
  beat_start(g_config.heartbeat_ns);
  if (!g_config.have_dst_mac) resolve();
  char ip[16], mac[18];
  console::print("netblast: sending to %s:%u mac=%s size=%u where=%s\n",
                 net::format_ip(g_config.dst_ip, ip), g_config.port,
                 net::format_mac(g_config.dst_mac, mac), g_config.size,
                 g_config.transport->where());
  uint64_t sent = 0, busy = 0, loops = 0;
  uint64_t start = clock::now_ns();
  uint64_t now = start;
  while (now - start < g_config.duration_ns) {
    for (int i = 0; i < kBatch; ++i) {
      uint8_t* out = g_net.tx_frame();
      if (out == nullptr) {
        ++busy;
        break;
      }
      uint32_t length = net::build_udp(out, g_mac, g_config.dst_mac, g_config.ip, g_config.dst_ip,
                                       g_config.src_port, g_config.port, g_config.size);
      uint8_t* payload = out + net::kUdpPayload;
      __builtin_memcpy(payload, &sent, 8);  // a sequence number, then a fixed pattern
      for (uint32_t k = 8; k < g_config.size; ++k) payload[k] = static_cast<uint8_t>(k);
      g_net.send(length);
      ++sent;
    }
    g_net.flush();
    if ((++loops & 31) == 0) drain_rx();
    now = clock::now_ns();
    beat_poll();
  }
  uint64_t ns = now - start;
  char ms[24], mbit[24];
  uint64_t frame_bytes = net::kUdpPayload + g_config.size;
  console::print(
      "netblast: PASS packets=%lu bytes=%lu ms=%s pps=%lu mbit_s=%s size=%u ring_full=%lu "
      "kicks=%lu notifications=%lu\n",
      sent, sent * frame_bytes, format_ms(ns, ms),
      ns == 0 ? 0
              : static_cast<uint64_t>(static_cast<unsigned __int128>(sent) * 1'000'000'000 / ns),
      format_per_second(sent, frame_bytes * 8, 1'000'000, ns, mbit), g_config.size, busy,
      g_net.tx_queue().kicks(), g_net.tx_queue().notifications());
  return kExitPass;
}

}  // namespace

extern const Workload kNetblastWorkload = {"netblast", configure, run};

}  // namespace guest
