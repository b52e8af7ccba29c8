#include "workloads/net_frames.h"

#include "rt/format.h"

namespace guest::net {
namespace {

constexpr uint32_t kIpHeader = 20;  // we send no options
constexpr uint32_t kArpLength = kEthHeader + 28;

void put_eth(uint8_t* frame, const Mac& dst, const Mac& src, uint16_t type) {
  __builtin_memcpy(frame, dst.b, 6);
  __builtin_memcpy(frame + 6, src.b, 6);
  put16(frame + 12, type);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Offset of the IPv4 payload and its length, or false when frame is not an IPv4 packet
// to ip that we can answer (bad header, fragment, truncated).
bool ipv4_to(const uint8_t* frame, uint32_t length, const Ip& ip, uint32_t* payload,
             uint32_t* payload_length) {
  if (length < kEthHeader + kIpHeader || get16(frame + 12) != kEtherIpv4) return false;
  const uint8_t* h = frame + kEthHeader;
  uint32_t ihl = (h[0] & 0xf) * 4u;
  uint32_t total = get16(h + 2);
  if ((h[0] >> 4) != 4 || ihl < kIpHeader || total < ihl || kEthHeader + total > length) {
    return false;
  }
  if ((get16(h + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
  if (__builtin_memcmp(h + 16, ip.b, 4) != 0) return false;
  *payload = kEthHeader + ihl;
  *payload_length = total - ihl;
  return true;
}

}  // namespace

bool parse_ip(const char* text, Ip* out) {
  for (int i = 0; i < 4; ++i) {
    uint32_t v = 0;
    int digits = 0;
    for (; *text >= '0' && *text <= '9' && digits < 3; ++text, ++digits) {
      v = v * 10 + static_cast<uint32_t>(*text - '0');
    }
    if (digits == 0 || v > 255 || *text != (i < 3 ? '.' : '\0')) return false;
    out->b[i] = static_cast<uint8_t>(v);
    if (i < 3) ++text;
  }
  return true;
}

bool parse_mac(const char* text, Mac* out) {
  for (int i = 0; i < 6; ++i) {
    int hi = hex(text[0]), lo = hex(text[1]);
    if (hi < 0 || lo < 0 || text[2] != (i < 5 ? ':' : '\0')) return false;
    out->b[i] = static_cast<uint8_t>(hi << 4 | lo);
    text += 3;
  }
  return true;
}

uint16_t checksum(const uint8_t* data, uint32_t length) {
  uint32_t sum = 0;
  for (uint32_t i = 0; i + 1 < length; i += 2) sum += get16(data + i);
  if (length & 1) sum += static_cast<uint32_t>(data[length - 1]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

uint32_t build_arp(uint8_t* frame, uint16_t op, const Mac& src_mac, const Ip& src_ip,
                   const Mac& dst_mac, const Ip& dst_ip) {
  put_eth(frame, op == 1 ? kBroadcast : dst_mac, src_mac, kEtherArp);
  uint8_t* a = frame + kEthHeader;
  put16(a, 1);           // hardware: Ethernet
  put16(a + 2, 0x0800);  // protocol: IPv4
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, op);
  __builtin_memcpy(a + 8, src_mac.b, 6);
  __builtin_memcpy(a + 14, src_ip.b, 4);
  if (op == 1) {
    __builtin_memset(a + 18, 0, 6);
  } else {
    __builtin_memcpy(a + 18, dst_mac.b, 6);
  }
  __builtin_memcpy(a + 24, dst_ip.b, 4);
  return kArpLength;
}

uint32_t build_udp(uint8_t* frame, const Mac& src_mac, const Mac& dst_mac, const Ip& src_ip,
                   const Ip& dst_ip, uint16_t src_port, uint16_t dst_port,
                   uint32_t payload_length) {
  put_eth(frame, dst_mac, src_mac, kEtherIpv4);
  uint8_t* h = frame + kEthHeader;
  uint32_t total = kIpHeader + 8 + payload_length;
  h[0] = 0x45;
  h[1] = 0;
  put16(h + 2, static_cast<uint16_t>(total));
  put16(h + 4, 0);       // identification
  put16(h + 6, 0x4000);  // don't fragment
  h[8] = 64;             // TTL
  h[9] = kProtoUdp;
  put16(h + 10, 0);
  __builtin_memcpy(h + 12, src_ip.b, 4);
  __builtin_memcpy(h + 16, dst_ip.b, 4);
  put16(h + 10, checksum(h, kIpHeader));
  uint8_t* u = h + kIpHeader;
  put16(u, src_port);
  put16(u + 2, dst_port);
  put16(u + 4, static_cast<uint16_t>(8 + payload_length));
  put16(u + 6, 0);
  return kEthHeader + total;
}

Kind classify(const uint8_t* frame, uint32_t length, const Ip& ip) {
  if (length >= kArpLength && get16(frame + 12) == kEtherArp) {
    const uint8_t* a = frame + kEthHeader;
    if (get16(a) != 1 || get16(a + 2) != 0x0800 || a[4] != 6 || a[5] != 4) return Kind::kOther;
    if (get16(a + 6) == 2) return Kind::kArpReply;
    if (get16(a + 6) == 1 && __builtin_memcmp(a + 24, ip.b, 4) == 0) return Kind::kArpRequest;
    return Kind::kOther;
  }
  uint32_t payload, payload_length;
  if (!ipv4_to(frame, length, ip, &payload, &payload_length)) return Kind::kOther;
  uint8_t proto = frame[kEthHeader + 9];
  if (proto == kProtoUdp && payload_length >= 8 && get16(frame + payload + 4) <= payload_length &&
      get16(frame + payload + 4) >= 8) {
    return Kind::kUdp;
  }
  if (proto == kProtoIcmp && payload_length >= 8 && frame[payload] == 8) return Kind::kIcmpEcho;
  return Kind::kOther;
}

void arp_sender(const uint8_t* frame, Mac* mac, Ip* ip) {
  __builtin_memcpy(mac->b, frame + kEthHeader + 8, 6);
  __builtin_memcpy(ip->b, frame + kEthHeader + 14, 4);
}

uint32_t make_reply(Kind kind, const uint8_t* frame, uint32_t length, const Mac& mac, const Ip& ip,
                    uint8_t* out) {
  if (kind == Kind::kArpRequest) {
    Mac peer_mac;
    Ip peer_ip;
    arp_sender(frame, &peer_mac, &peer_ip);
    return build_arp(out, 2, mac, ip, peer_mac, peer_ip);
  }
  uint32_t payload, payload_length;
  ipv4_to(frame, length, ip, &payload, &payload_length);
  uint32_t reply_length = payload + payload_length;
  __builtin_memcpy(out, frame, reply_length);
  // Ethernet: back to the sender. IPv4: addresses swapped, fresh TTL and checksum.
  __builtin_memcpy(out, frame + 6, 6);
  __builtin_memcpy(out + 6, mac.b, 6);
  uint8_t* h = out + kEthHeader;
  uint32_t ihl = payload - kEthHeader;
  __builtin_memcpy(h + 16, frame + kEthHeader + 12, 4);
  __builtin_memcpy(h + 12, ip.b, 4);
  h[8] = 64;
  put16(h + 10, 0);
  put16(h + 10, checksum(h, ihl));
  uint8_t* p = out + payload;
  if (kind == Kind::kUdp) {
    put16(p, get16(frame + payload + 2));
    put16(p + 2, get16(frame + payload));
    put16(p + 6, 0);  // no checksum (allowed for UDP over IPv4)
  } else {
    p[0] = 0;  // echo reply; same identifier, sequence and data
    put16(p + 2, 0);
    put16(p + 2, checksum(p, payload_length));
  }
  return reply_length;
}

const char* format_ip(const Ip& ip, char (&buf)[16]) {
  snformat(buf, sizeof(buf), "%u.%u.%u.%u", ip.b[0], ip.b[1], ip.b[2], ip.b[3]);
  return buf;
}

const char* format_mac(const Mac& mac, char (&buf)[18]) {
  snformat(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac.b[0], mac.b[1], mac.b[2],
           mac.b[3], mac.b[4], mac.b[5]);
  return buf;
}

}  // namespace guest::net
