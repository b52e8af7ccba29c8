"""A small independent reader/writer of ferry's state format (docs/state-format.md),
used by tests to corrupt snapshots precisely and to play a misbehaving peer."""
import struct

MAGIC = b"FERRYVMS"
SECTION_HEADER = struct.Struct("<IHHQII")  # type, version, instance, length, crc, reserved

MACHINE, VCPU, IRQCHIP, PIT, CLOCK, SERIAL, MEMORY_FILE, PAGES = 1, 2, 3, 4, 5, 6, 7, 8
ACCEPT, REFUSE, READY, GO, RUNNING, END = 9, 10, 11, 12, 13, 0xFFFF
VIRTIO_PCI, VIRTIO_BLK = 14, 15  # instance = device index (PCI slot - 1)
MACHINE_DEVICES_FIELD = 5  # machine section: array of (u32 virtio type, u32 flags)


def machine_devices(machine_payload):
    """[(virtio device type, flags)] listed in a machine section (empty when none)."""
    raw = parse_fields(machine_payload).get(MACHINE_DEVICES_FIELD, b"")
    return [struct.unpack_from("<II", raw, i) for i in range(0, len(raw), 8)]


def _table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def file_header():
    head = MAGIC + struct.pack("<II", 1, 32) + bytes(12)
    return head + struct.pack("<I", crc32c(head))


def section(type_, payload=b"", instance=0, version=1):
    head = struct.pack("<IHHQ", type_, version, instance, len(payload))
    crc = crc32c(payload, crc32c(head))
    return head + struct.pack("<II", crc, 0) + payload


def fields(pairs):
    out = b""
    for field_id, value in pairs:
        out += struct.pack("<HHI", field_id, 0, len(value)) + value
    return out


def parse_fields(payload):
    result, pos = {}, 0
    while pos < len(payload):
        field_id, _, length = struct.unpack_from("<HHI", payload, pos)
        pos += 8
        result[field_id] = payload[pos:pos + length]
        pos += length
    return result


def split(data):
    """Returns [(offset of section header, type, instance, payload)] of a state file."""
    out, pos = [], 32
    while pos < len(data):
        type_, _, instance, length, _, _ = SECTION_HEADER.unpack_from(data, pos)
        out.append((pos, type_, instance, data[pos + 24:pos + 24 + length]))
        pos += 24 + length
    return out


def rebuild(sections):
    """sections: [(type, instance, payload)] -> a whole state file with fresh CRCs."""
    return file_header() + b"".join(section(t, p, i) for t, i, p in sections)


def read_section(sock):
    head = _read_exact(sock, 24)
    type_, _, instance, length, _, _ = SECTION_HEADER.unpack(head)
    return type_, instance, _read_exact(sock, length)


def _read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("peer closed")
        data += chunk
    return data
