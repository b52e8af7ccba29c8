// Just enough Ethernet, ARP, IPv4, UDP and ICMP for netecho and netblast: parsing the
// command-line addresses, building frames, and turning a request into its reply in
// place. Multi-byte header fields are big endian on the wire.
#pragma once

#include <stdint.h>

namespace guest::net {

inline constexpr uint32_t kEthHeader = 14;
inline constexpr uint16_t kEtherIpv4 = 0x0800;
inline constexpr uint16_t kEtherArp = 0x0806;
inline constexpr uint8_t kProtoIcmp = 1;
inline constexpr uint8_t kProtoUdp = 17;

struct Ip {
  uint8_t b[4];
  bool operator==(const Ip&) const = default;
};

struct Mac {
  uint8_t b[6];
  bool operator==(const Mac&) const = default;
};

inline constexpr Mac kBroadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};

bool parse_ip(const char* text, Ip* out);
bool parse_mac(const char* text, Mac* out);  // "52:54:00:12:34:56"

inline uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// The Internet checksum (RFC 1071) of length bytes.
uint16_t checksum(const uint8_t* data, uint32_t length);

// An ARP request or reply (op 1 or 2), 42 bytes. Returns the frame length.
uint32_t build_arp(uint8_t* frame, uint16_t op, const Mac& src_mac, const Ip& src_ip,
                   const Mac& dst_mac, const Ip& dst_ip);

// A UDP datagram in IPv4 with payload_length bytes of payload left for the caller at
// frame + kUdpPayload (the UDP checksum is 0: none, allowed for IPv4). Returns the frame
// length.
inline constexpr uint32_t kUdpPayload = kEthHeader + 20 + 8;
uint32_t build_udp(uint8_t* frame, const Mac& src_mac, const Mac& dst_mac, const Ip& src_ip,
                   const Ip& dst_ip, uint16_t src_port, uint16_t dst_port, uint32_t payload_length);

// What a received frame is, for our address.
enum class Kind { kOther, kArpRequest, kArpReply, kUdp, kIcmpEcho };
// Classifies frame (length bytes) as seen by a host with address `ip`: an ARP request
// for it, any ARP reply, or an unfragmented IPv4 UDP datagram / ICMP echo request to it.
Kind classify(const uint8_t* frame, uint32_t length, const Ip& ip);

// The sender of an ARP frame.
void arp_sender(const uint8_t* frame, Mac* mac, Ip* ip);

// Writes into out the reply to a request classified above, from (mac, ip): an ARP
// reply, the UDP datagram with addresses and ports swapped, or the ICMP echo reply.
// Returns the reply's length (Ethernet padding dropped).
uint32_t make_reply(Kind kind, const uint8_t* frame, uint32_t length, const Mac& mac, const Ip& ip,
                    uint8_t* out);

// "10.0.0.2" / "52:54:00:12:34:56" into buf.
const char* format_ip(const Ip& ip, char (&buf)[16]);
const char* format_mac(const Mac& mac, char (&buf)[18]);

}  // namespace guest::net
