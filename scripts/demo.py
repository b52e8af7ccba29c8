"""The end-to-end demo: boot the guest kit with its self-verifying dirtier,
live-migrate it (pre-copy, TCP loopback) to a second ferry while it writes
memory, and show that it goes on verifying its memory at the destination."""
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
CMDLINE = "dirtier --size 256M --rate 200M --duration 6 --pattern random --heartbeat-ms 10"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def show(prefix, proc, start, state):
    beats = 0
    for line in proc.stdout:
        now = time.monotonic()
        state.setdefault("first", now)
        line = line.rstrip("\n")
        if line.startswith("hb "):
            beats += 1
            if beats % 100 != 1:
                continue  # one heartbeat in a hundred
        print(f"[{(now - start) * 1000:8.1f} ms] {prefix} {line}", flush=True)
    state["beats"] = beats


def main():
    tmp = tempfile.mkdtemp(prefix="ferry-demo-")
    api = f"{tmp}/vm.sock"
    port = free_port()
    print(f"$ ferry run --kernel build/guest/ferry-guest.elf --memory 1G --cpus 2 "
          f"--api {api} --cmdline '{CMDLINE}'")
    start = time.monotonic()
    source = subprocess.Popen([str(FERRY), "run", "--kernel", str(GUEST), "--memory", "1G",
                               "--cpus", "2", "--api", api, "--cmdline", CMDLINE],
                              stdout=subprocess.PIPE, text=True)
    src_state, dst_state = {}, {}
    threading.Thread(target=show, args=("source     ", source, start, src_state),
                     daemon=True).start()
    destination = subprocess.Popen([str(FERRY), "receive", "--listen", f"tcp:127.0.0.1:{port}"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    threading.Thread(target=show, args=("destination", destination, start, dst_state),
                     daemon=True).start()
    time.sleep(2)
    print(f"$ ferry migrate --api {api} --to tcp:127.0.0.1:{port}", flush=True)
    report = subprocess.run([str(FERRY), "migrate", "--api", api,
                             "--to", f"tcp:127.0.0.1:{port}"], capture_output=True, text=True)
    print(report.stdout or report.stderr, flush=True)
    rc_source = source.wait()
    rc_destination = destination.wait()
    time.sleep(0.2)
    print(f"boot: first guest output {(src_state['first'] - start) * 1000:.1f} ms after "
          f"`ferry run` started")
    print(f"source exited {rc_source} (released the VM); destination exited {rc_destination} "
          f"(the dirtier's own verdict)")
    return rc_destination if report.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
