#!/usr/bin/env bash
# `make demo`: boot the guest kit under ferry, run the dirtier for a few
# seconds with its memory verification, and show its output and the boot time.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 scripts/demo.py "$@"
