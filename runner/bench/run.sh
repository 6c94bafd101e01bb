#!/usr/bin/env bash
# Local runner benchmark: 400,000 synthetic records over a 10,000-node array,
# end to end (prep, procurement/processing/egress as local processes, egress
# to S3, watcher), and the N_TO_N lag. Usage:
#   bash runner/bench/run.sh            # PROFILE=release (default) | debug
# Env: COUNT (400000), PER_NODE (40), CONCURRENCY (the runner's default), BENCH_DIR (a new
# directory on /dev/shm if it has 4 GB free, else under /tmp),
# S3=embedded (default: the runner's own S3, `--s3-dir`, for the data plane;
# moto stays the control plane) | moto (egress to moto's S3, as before),
# BASELINE_BIN_DIR=DIR (first runs the binaries in DIR, e.g. a build of
# main, the old way, egress to moto, then the working tree's: the two rows
# side by side in one run; DIR needs the six binaries below;
# BASELINE_S3=embedded gives the baseline the embedded S3 too, to compare
# two builds alone),
# NO_BUILD=1 (run the binaries already built: the runner's and the Lambdas'
# in $CARGO_TARGET_DIR/$PROFILE, the jobs' from jobs/build-static.sh),
# BENCH_PLANT_MISMATCH=1 (the runner gets one record more than the check
# expects, to show that a mismatch fails the bench).
# Exits non-zero if a run fails or its counts do not add up (records in
# and out = COUNT, nothing rejected, no failed node, every node's result
# in S3): a wall time for a run that lost records measures nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
profile="${PROFILE:-release}"
count="${COUNT:-400000}"; per_node="${PER_NODE:-40}"
flag=(); [ "$profile" = release ] && flag=(--release)
# The job binaries are the ones the images carry (jobs/build-static.sh:
# static, fat LTO), not the workspace's build: a process per node makes
# their start cost a third of the run (BENCHMARKS.md, "Local runner").
# PROFILE=debug runs the workspace's debug build of all six.
static_jobs="$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release"
if [ "${NO_BUILD:-0}" != 1 ]; then   # NO_BUILD=1: the binaries already in the target dir
  jobs=(); [ "$profile" = release ] || jobs=(-p batch-jobs --bin procurement --bin processing --bin egress)
  cargo build "${flag[@]}" -p batch-runner -p batch-lambdas ${jobs[@]+"${jobs[@]}"} \
    --bin batch-pipeline --bin prep --bin watcher
  [ "$profile" != release ] || static_jobs=$(bash "$root/jobs/build-static.sh")
fi
py="$root/.tools/venv/bin/python"
# The runs' directories (EFS's stand-in and the runner's S3) go to tmpfs
# when there is one with room: on ext4 over a virtual disk, fsync waits
# and inode allocation vary with the disk's history (ext4 scans for
# recently deleted inodes): the runner's CPU went from 3.3 to 8.2 s
# between two 1,000-node runs of the same runner, most of the second in
# ext4's inode allocation (perf). A local disk models EFS no better than
# memory does. BENCH_DIR=DIR picks the place
# and keeps everything; in the default one, the runs' data is removed at
# exit (summaries and logs stay).
tmpfs_room_kb() { df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }'; }
scratch=0
if [ -n "${BENCH_DIR:-}" ]; then
  dir=$BENCH_DIR
elif [ "$(tmpfs_room_kb || echo 0)" -gt 4000000 ]; then
  dir=$(mktemp -d -p /dev/shm); scratch=1
else
  dir=$(mktemp -d)
fi
mkdir -p "$dir"
# The runner finds all six binaries in one directory (--bin-dir).
bin="$CARGO_TARGET_DIR/$profile"
if [ "$profile" = release ]; then
  bin="$dir/bin"; mkdir -p "$bin"
  for b in batch-pipeline prep watcher; do ln -sfn "$CARGO_TARGET_DIR/release/$b" "$bin/$b"; done
  for b in procurement processing egress; do
    [ -x "$static_jobs/$b" ] || { echo "no $static_jobs/$b: run without NO_BUILD=1 (or bash jobs/build-static.sh)" >&2; exit 1; }
    ln -sfn "$static_jobs/$b" "$bin/$b"
  done
fi
source "$root/scripts/moto.sh"
moto_pid=""
cleanup() {
  [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true
  [ "$scratch" = 0 ] || rm -rf "$dir"/*/efs/runs "$dir"/*/s3
}
trap cleanup EXIT INT TERM
start_moto "$dir/moto.log" || exit $?
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
"$py" -c "import boto3; boto3.client('s3', endpoint_url='$AWS_ENDPOINT_URL').create_bucket(Bucket='out')"
cat >"$dir/input.json" <<JSON
{"config": {"version": 1, "pipeline": "bench", "efs_mount_path": "/mnt/efs",
  "source": {"type": "synthetic", "count": $((count + ${BENCH_PLANT_MISMATCH:-0})), "format": "yelp-jsonl"}, "items_per_node": $per_node,
  "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
  "egress": {"bucket": "out", "prefix": "results"}}, "overrides": {}}
JSON
tck=$(getconf CLK_TCK)
proc_cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU seconds of the processes this shell has waited for (and theirs),
# into the file $1 (`times` in a $(...) subshell would count the subshell's).
children_cpu() {
  { times; } >"$1.times"
  tail -1 "$1.times" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); s += a[1] * 60 + a[2] } print s }'
}

# bench_once LABEL BIN_DIR S3_MODE: one run, a result line, the counts checked.
bench_once() {
  local label=$1 bins=$2 mode=$3 run="$dir/$1"
  rm -rf "$run"; mkdir -p "$run"
  local s3_args=()
  if [ "$mode" = embedded ]; then
    mkdir -p "$run/s3/out"   # the egress bucket: a folder of the runner's S3
    s3_args=(--s3-dir "$run/s3")
  else
    "$py" - "$AWS_ENDPOINT_URL" <<'PY'
import sys, boto3
s3 = boto3.resource("s3", endpoint_url=sys.argv[1])
s3.Bucket("out").objects.all().delete()
PY
  fi
  local moto_before moto_requests_before cpu_before start end runner_cpu=0 state status=0
  moto_before=$(proc_cpu "$moto_pid")
  moto_requests_before=$(grep -cE '(PUT|HEAD|GET|POST|DELETE) /' "$dir/moto.log" || true)
  children_cpu "$run/before" >"$run/cpu_before"; cpu_before=$(cat "$run/cpu_before")
  start=$(date +%s.%N)
  "$bins/batch-pipeline" run --definition "$root/runner/tests/fixtures/definition.json" --input "$dir/input.json" \
    --efs-dir "$run/efs" --summary-json "$run/summary.json" --bin-dir "$bins" "${s3_args[@]}" \
    ${CONCURRENCY:+--concurrency "$CONCURRENCY"} --no-progress &
  local pid=$!
  # The runner's own CPU (interpreter, scheduling, and in embedded mode
  # the S3 server): its /proc entry, read until it has exited (a zombie
  # keeps its final counts until it is waited for).
  while state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) && [ "$state" != Z ]; do
    runner_cpu=$(proc_cpu "$pid" 2>/dev/null || echo "$runner_cpu"); sleep 0.2
  done
  runner_cpu=$(proc_cpu "$pid" 2>/dev/null || echo "$runner_cpu")
  wait "$pid" || status=$?
  end=$(date +%s.%N)
  local total moto_cpu requests
  children_cpu "$run/after" >"$run/cpu_after"
  total=$(echo "$(cat "$run/cpu_after") - $cpu_before" | bc -l)
  moto_cpu=$(echo "($(proc_cpu "$moto_pid") - $moto_before) / $tck" | bc -l)
  requests=$(( $(grep -cE '(PUT|HEAD|GET|POST|DELETE) /' "$dir/moto.log" || true) - moto_requests_before ))
  runner_cpu=$(echo "$runner_cpu / $tck" | bc -l)
  printf '%s: wall %.1f s (profile %s, %s cores, S3 %s); CPU: runner %.1f s, its processes %.1f s, moto %.1f s for %s requests\n' \
    "$label" "$(echo "$end - $start" | bc)" "$profile" "$(nproc)" "$mode" "$runner_cpu" \
    "$(echo "$total - $runner_cpu" | bc -l)" "$moto_cpu" "$requests"
  echo "summary: $run/summary.json (runner exit $status)"
  "$py" - "$run/summary.json" "$count" "$per_node" "$mode" "$run/s3" <<'PY'
import json, os, sys
summary, count, per_node = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
mode, s3_dir = sys.argv[4], sys.argv[5]
nodes = min(-(-count // per_node), 10_000)
if mode == "moto":
    import boto3
    s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="out", Prefix="results/")
            for o in page.get("Contents", [])]
else:
    # The runner's S3 keeps an object as the file <dir>/<bucket>/<key>.
    base = os.path.join(s3_dir, "out")
    keys = [os.path.relpath(os.path.join(d, f), base) for d, _, files in os.walk(os.path.join(base, "results"))
            for f in files]
lag = {s: (v.get("lag_ms_median"), v.get("lag_ms_p95")) for s, v in summary.get("stages", {}).items()}
print(f"lag p50/p95 ms: {lag}", file=sys.stderr)
expected = {"status": "SUCCEEDED", "array_size": nodes, "records_in": count, "records_clean": count,
            "records_rejected": 0}
got = {k: summary.get(k) for k in expected}
problems = [f"{k}: {got[k]!r}, expected {v!r}" for k, v in expected.items() if got[k] != v]
problems += [f"{stage}: failed nodes {v['failed_indices']}" for stage, v in summary.get("stages", {}).items() if v.get("failed")]
objects = summary.get("output_objects") or 0
if objects < nodes or len(keys) < objects:
    problems.append(f"egress wrote {objects} objects for {nodes} nodes; S3 holds {len(keys)} under results/")
for p in problems:
    print(f"bench FAILED: {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"counts add up: {count} records in and out over {nodes} nodes, {len(keys)} objects in S3", file=sys.stderr)
PY
}

if [ -n "${BASELINE_BIN_DIR:-}" ]; then
  bench_once baseline "$BASELINE_BIN_DIR" "${BASELINE_S3:-moto}"
fi
bench_once current "$bin" "${S3:-embedded}"
