#!/usr/bin/env bash
# Local runner benchmark: 400,000 synthetic records over a 10,000-node array,
# end to end (prep, procurement/processing/egress as local processes, egress
# to moto S3, watcher), and the N_TO_N lag. Usage:
#   bash runner/bench/run.sh            # PROFILE=release (default) | debug
# Env: COUNT (400000), PER_NODE (40), CONCURRENCY (nproc), BENCH_DIR (mktemp).
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
  "source": {"type": "synthetic", "count": $count, "format": "yelp-jsonl"}, "items_per_node": $per_node,
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
