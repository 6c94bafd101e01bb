#!/usr/bin/env bash
# Runs the lambdas benchmarks (lambdas/bench/main.rs) on release builds and
# prints markdown tables. Needs .tools/venv (scripts/setup-tools.sh) for the
# Python + boto3 baseline. RUNS=N repetitions (default 10); DISK_DIR is the
# on-disk directory for the prep benchmark (default: target/bench-efs).
# Fails (exit 101) if prep's counts are not 400,000 ids in 10,000 nodes of
# 40 on any timed run; BENCH_PLANT_MISMATCH=1 asks for one id more to show
# it.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash scripts/setup-tools.sh
target=${CARGO_TARGET_DIR:-$root/target}
# The binaries measured are the ones in the zips (release, built by
# cargo-lambda); the harness that starts them can be a debug build.
bash "$root/lambdas/build.sh" >&2
bin="$target/x86_64-unknown-linux-gnu/release"
disk=${DISK_DIR:-$target/bench-efs}
mkdir -p "$disk"
cargo bench -q --profile dev -p batch-lambdas --bench lambdas -- \
  --prep "$bin/prep" \
  --watcher "$bin/watcher" \
  --python "$root/.tools/venv/bin/python" \
  --python-bootstrap "$root/lambdas/bench/python_bootstrap.py" \
  --disk-dir "$disk" \
  --runs "${RUNS:-10}"
