#!/usr/bin/env bash
# Runs the lambdas benchmarks (lambdas/bench/main.rs) on release builds and
# prints markdown tables. Needs .tools/venv (scripts/setup-tools.sh) for the
# Python + boto3 baseline. RUNS=N repetitions (default 10); DISK_DIR is the
# on-disk directory for the prep benchmark (default: target/bench-efs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bash scripts/setup-tools.sh
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p batch-lambdas --bins
disk=${DISK_DIR:-$target/bench-efs}
mkdir -p "$disk"
cargo bench -q -p batch-lambdas --bench lambdas -- \
  --prep "$target/release/prep" \
  --watcher "$target/release/watcher" \
  --python "$root/.tools/venv/bin/python" \
  --python-bootstrap "$root/lambdas/bench/python_bootstrap.py" \
  --disk-dir "$disk" \
  --runs "${RUNS:-10}"
