"""Sends sequenced UDP requests to an echo server at a fixed interval and
reports, as one JSON line, what came back: how many went unanswered, when
they were sent, and the longest gap between replies. Run inside a client
network namespace while the server's VM migrates.

usage: udp_probe.py HOST PORT SECONDS [INTERVAL_MS]
"""
import json
import socket
import struct
import sys
import threading
import time


def main():
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    interval = (float(sys.argv[4]) if len(sys.argv) > 4 else 2.0) / 1000
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.2)
    sent = {}
    replies = {}
    done = threading.Event()

    def receive():
        while not done.is_set():
            try:
                data, _ = sock.recvfrom(2048)
            except socket.timeout:
                continue
            if len(data) >= 8:
                seq = struct.unpack("<Q", data[:8])[0]
                replies.setdefault(seq, time.monotonic())

    t = threading.Thread(target=receive)
    t.start()
    start = time.monotonic()
    seq = 0
    while time.monotonic() - start < seconds:
        sent[seq] = time.monotonic()
        sock.sendto(struct.pack("<Q", seq) + b"ferry-probe" * 4, (host, port))
        seq += 1
        next_at = start + seq * interval
        time.sleep(max(0, next_at - time.monotonic()))
    time.sleep(0.5)  # the last replies
    done.set()
    t.join()
    times = sorted(replies.values())
    gaps = [(b - a, a, b) for a, b in zip(times, times[1:])]
    longest = max(gaps) if gaps else (0, 0, 0)
    unanswered = sorted(s for s in sent if s not in replies)
    print(json.dumps({
        "sent": len(sent),
        "answered": len(replies),
        "unanswered": len(unanswered),
        "longest_gap_ms": longest[0] * 1000,
        "gap_start": longest[1],
        "gap_end": longest[2],
        # send times of the unanswered requests, so a test can check they fell in the gap
        "unanswered_sent_at": [sent[s] for s in unanswered],
        "first_reply_at": times[0] if times else None,
    }))


if __name__ == "__main__":
    main()
