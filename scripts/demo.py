"""The end-to-end demo: one VM, the dirtier verifying its memory, boot time."""
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
FERRY = ROOT / "build" / "src" / "ferry"
GUEST = ROOT / "build" / "guest" / "ferry-guest.elf"
CMDLINE = "dirtier --size 256M --rate 200M --duration 5 --pattern random --heartbeat-ms 10"


def main():
    argv = [str(FERRY), "run", "--kernel", str(GUEST), "--memory", "1G", "--cpus", "2",
            "--cmdline", CMDLINE]
    print("$ " + " ".join(argv[:1] + ["run", "--kernel", "build/guest/ferry-guest.elf",
                                      "--memory", "1G", "--cpus", "2", "--cmdline",
                                      repr(CMDLINE)]))
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    first_output = None
    heartbeats = 0
    for line in proc.stdout:
        now = time.monotonic()
        if first_output is None:
            first_output = now
        line = line.rstrip("\n")
        if line.startswith("hb "):
            heartbeats += 1
            if heartbeats % 100 != 1:
                continue  # show one heartbeat in a hundred
        print(f"[{(now - start) * 1000:8.1f} ms] {line}")
    rc = proc.wait()
    print()
    print(f"boot: first guest output {(first_output - start) * 1000:.1f} ms after `ferry run` started")
    print(f"heartbeats received: {heartbeats}; ferry exited with status {rc}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
