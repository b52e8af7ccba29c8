#!/usr/bin/env bash
# `make demo`: boot the guest kit under ferry, live-migrate it while its
# dirtier writes and verifies memory, and show the report and the output.
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 scripts/demo.py "$@"
