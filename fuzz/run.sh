#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: fuzz/run.sh BUILD SECONDS
# (FUZZ_SEED=N for a repeatable run).
# Seeds (make_corpus.sh) live in BUILD/seeds/<target>, remade when the
# script changes; what the
# runs find grows BUILD/corpus/<target>; crashes go to BUILD/artifacts/. Exits
# non-zero on the first target that finds a crash, with its log's tail.
set -euo pipefail
build=$(realpath "$1")  # absolute: the targets chdir to a scratch directory
seconds=$2
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$build/seeds" ] || [ "$here/make_corpus.sh" -nt "$build/seeds" ]; then
  rm -rf "$build/seeds" "$build/seeds.new"
  "$here/make_corpus.sh" "$build/seeds.new" && mv "$build/seeds.new" "$build/seeds"
fi
mkdir -p "$build/artifacts" "$build/logs"
status=0
for exe in "$build"/fuzz_*; do
  [ -x "$exe" ] || continue
  name=$(basename "$exe")
  target=${name#fuzz_}
  corpus=$build/corpus/$target
  mkdir -p "$corpus" "$build/seeds/$target"
  log=$build/logs/$target.log
  # -rss_limit_mb bounds what a hostile image can make a parser allocate.
  if "$exe" ${FUZZ_SEED:+-seed=$FUZZ_SEED} -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$build/artifacts/$target-" "$corpus" "$build/seeds/$target" \
       >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
    echo "fuzz $target: ${seconds}s, ${runs:-?} runs, no crash"
  else
    echo "fuzz $target: FAILED (log: $log)"
    tail -n 30 "$log"
    status=1
  fi
done
exit $status
