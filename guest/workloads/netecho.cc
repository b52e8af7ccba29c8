// netecho --ip A.B.C.D [--mask N] [--net N] [--duration S|forever] [--heartbeat-ms M]
//
// Answers ARP requests for --ip, echoes every UDP datagram sent to it (any port; source
// and destination swapped, same payload) and answers ICMP echo requests (ping). Uses the
// MAC from the virtio-net configuration. Runs on CPU 0; at the end prints its counters.
//
// When the device asks (VIRTIO_NET_F_GUEST_ANNOUNCE, after a migration), it broadcasts a
// gratuitous ARP for --ip, acknowledges on the control queue and prints
// "netecho: announced ...". The status is read every 20 ms.
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

constexpr const char* kName = "netecho";
constexpr int kBatch = 32;  // frames handled between flushes and clock checks
constexpr uint64_t kAnnounceCheckNs = 20'000'000;

struct Config {
  virtio::Transport* transport = nullptr;
  net::Ip ip{};
  uint64_t mask = 24;
  Duration duration{true, 0};
  uint64_t heartbeat_ns = 0;
};

struct Counters {
  uint64_t arp = 0, udp = 0, icmp = 0, other = 0, tx_busy = 0, announced = 0;
};

constinit Config g_config;
constinit virtio::NetDevice g_net;

void configure(Args& args, const Machine& machine) {
  const char* ip = args.text("ip", nullptr);
  g_config.mask = args.number("mask", 24, 0, 32);
  int index = static_cast<int>(args.number("net", 0, 0, 63));
  g_config.duration = args.duration("duration", Duration{true, 0});
  g_config.heartbeat_ns = args.number("heartbeat-ms", 5, 0, 3'600'000) * 1'000'000;
  if (ip == nullptr) fatal(kExitBadConfig, "netecho needs --ip A.B.C.D");
  if (!net::parse_ip(ip, &g_config.ip)) {
    fatal(kExitBadConfig, "bad value \"%s\" for --ip (expected A.B.C.D)", ip);
  }
  g_config.transport = &open_virtio_device(kName, args, machine, virtio::kTypeNet, index);
}

// Handles one received frame; false when the reply could not be queued (no free
// transmit buffer: the request is dropped, as a busy host would).
void handle(const uint8_t* frame, uint32_t length, const net::Mac& mac, Counters& c) {
  net::Kind kind = net::classify(frame, length, g_config.ip);
  if (kind == net::Kind::kOther || kind == net::Kind::kArpReply) {
    ++c.other;
    return;
  }
  uint8_t* out = g_net.tx_frame();
  if (out == nullptr) {
    ++c.tx_busy;
    return;
  }
  g_net.send(net::make_reply(kind, frame, length, mac, g_config.ip, out));
  if (kind == net::Kind::kArpRequest) ++c.arp;
  if (kind == net::Kind::kUdp) ++c.udp;
  if (kind == net::Kind::kIcmpEcho) ++c.icmp;
}

// A gratuitous ARP (a request for our own address, broadcast) so that switches and
// neighbours learn where we are now, then the acknowledgement the device waits for.
void announce(const net::Mac& mac, Counters& c) {
  uint8_t* out = g_net.tx_frame();
  if (out == nullptr) return;  // all buffers in flight: the next check tries again
  g_net.send(net::build_arp(out, 1, mac, g_config.ip, net::kBroadcast, g_config.ip));
  g_net.flush();
  if (!g_net.ack_announce()) {
    console::print("netecho: FAIL reason=announce_ack_refused where=%s\n",
                   g_config.transport->where());
    exit_guest(kExitVerifyFailed);
  }
  ++c.announced;
  char ip_text[16], mac_text[18];
  console::print("netecho: announced ip=%s mac=%s (the device asked) count=%lu\n",
                 net::format_ip(g_config.ip, ip_text), net::format_mac(mac, mac_text), c.announced);
}

uint32_t run(int cpu) {
  if (cpu != 0) return kExitPass;
  g_net.open(*g_config.transport);
  net::Mac mac;
  __builtin_memcpy(mac.b, g_net.mac(), 6);
  char ip_text[16], mac_text[18];
  console::print("netecho: listening ip=%s/%lu mac=%s mac_source=%s where=%s guest_announce=%s\n",
                 net::format_ip(g_config.ip, ip_text), g_config.mask,
                 net::format_mac(mac, mac_text), g_net.mac_from_device() ? "device" : "default",
                 g_config.transport->where(), g_net.guest_announce() ? "yes" : "no");
  beat_start(g_config.heartbeat_ns);
  Counters c;
  uint64_t start = clock::now_ns();
  uint64_t now = start;
  uint64_t next_announce_check = start;
  while (g_config.duration.forever || now - start < g_config.duration.ns) {
    int handled = 0;
    const uint8_t* frame;
    uint32_t length;
    int buffer;
    while (handled < kBatch && g_net.receive(&frame, &length, &buffer)) {
      handle(frame, length, mac, c);
      g_net.recycle(buffer);
      ++handled;
    }
    if (handled != 0) {
      g_net.flush();
    } else {
      x86::pause();
    }
    now = clock::now_ns();
    if (now >= next_announce_check) {
      if (g_net.announce_requested()) announce(mac, c);
      next_announce_check = now + kAnnounceCheckNs;
    }
    beat_poll();
  }
  char gap[24];
  console::print(
      "netecho: PASS rx=%lu tx=%lu udp=%lu arp=%lu icmp=%lu other=%lu tx_busy=%lu "
      "rx_dropped=%lu announced=%lu max_gap_ms=%s\n",
      g_net.rx_frames(), g_net.tx_frames(), c.udp, c.arp, c.icmp, c.other, c.tx_busy,
      g_net.rx_dropped(), c.announced, format_ms(beat_max_gap_ns(), gap));
  return kExitPass;
}

}  // namespace

extern const Workload kNetechoWorkload = {"netecho", configure, run};

}  // namespace guest
