#!/usr/bin/env bash
# Local runner benchmark: 400,000 synthetic records over a 10,000-node array,
# end to end (prep, procurement/processing/egress as local processes, egress
# to moto S3, watcher), and the N_TO_N lag. Usage:
#   bash runner/bench/run.sh            # PROFILE=release (default) | debug
# Env: COUNT (400000), PER_NODE (40), CONCURRENCY (nproc), BENCH_DIR (mktemp),
# BENCH_PLANT_MISMATCH=1 (the runner gets one record more than the check
# expects, to show that a mismatch fails the bench).
# Exits non-zero if the run fails or its counts do not add up (records in
# and out = COUNT, nothing rejected, no failed node, every node's result
# in S3): a wall time for a run that lost records measures nothing.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
profile="${PROFILE:-release}"
count="${COUNT:-400000}"; per_node="${PER_NODE:-40}"
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build "${flag[@]}" -p batch-runner -p batch-lambdas -p batch-jobs \
  --bin batch-pipeline --bin prep --bin watcher --bin procurement --bin processing --bin egress
bin="$CARGO_TARGET_DIR/$profile"
py="$root/.tools/venv/bin/python"
dir="${BENCH_DIR:-$(mktemp -d)}"; mkdir -p "$dir"
source "$root/scripts/moto.sh"
moto_pid=""
trap '[ -z "$moto_pid" ] || kill $moto_pid 2>/dev/null || true' EXIT INT TERM
start_moto "$dir/moto.log" || exit $?
export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
"$py" -c "import boto3; boto3.client('s3', endpoint_url='$AWS_ENDPOINT_URL').create_bucket(Bucket='out')"
cat >"$dir/input.json" <<JSON
{"config": {"version": 1, "pipeline": "bench", "efs_mount_path": "/mnt/efs",
  "source": {"type": "synthetic", "count": $((count + ${BENCH_PLANT_MISMATCH:-0})), "format": "yelp-jsonl"}, "items_per_node": $per_node,
  "transform": {"kind": "jsonl_calc", "calculations": ["review_score = stars * review_count"]},
  "egress": {"bucket": "out", "prefix": "results"}}, "overrides": {}}
JSON
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
moto_before=$(cpu_ticks "$moto_pid")
start=$(date +%s.%N)
# bash's time: user and sys CPU of the runner and every process it waited for.
TIMEFORMAT='%U %S'
{ time "$bin/batch-pipeline" run --definition "$root/runner/tests/fixtures/definition.json" --input "$dir/input.json" \
  --efs-dir "$dir/efs" --summary-json "$dir/summary.json" ${CONCURRENCY:+--concurrency "$CONCURRENCY"} --no-progress 2>&3
} 3>&2 2>"$dir/runner.cpu"
end=$(date +%s.%N)
moto_cpu=$(echo "($(cpu_ticks "$moto_pid") - $moto_before) / $(getconf CLK_TCK)" | bc -l)
read -r user sys <"$dir/runner.cpu"
requests=$(grep -cE '(PUT|HEAD|GET|POST|DELETE) /' "$dir/moto.log" || true)
printf 'wall %.1f s (profile %s, %s cores); CPU: runner + its processes %.1f s, moto %.1f s for %s requests\n' \
  "$(echo "$end - $start" | bc)" "$profile" "$(nproc)" "$(echo "$user + $sys" | bc)" "$moto_cpu" "$requests"
echo "summary: $dir/summary.json"
"$py" - "$dir/summary.json" "$count" "$per_node" <<'PY'
import json, os, sys
import boto3
summary, count, per_node = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
nodes = min(-(-count // per_node), 10_000)
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="out", Prefix="results/")
        for o in page.get("Contents", [])]
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
