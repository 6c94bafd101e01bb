#!/usr/bin/env bash
# make bench-compare [BASE=rev]: the CSV and JSON-lines transforms of
# BASE_REV (default main) and of the working tree, side by side, in one
# run on the same generated data, so that "no slower" is a measurement
# and not a comparison with a figure taken on another day.
#
# BASE_REV is built in a temporary `git worktree` (removed at the end)
# into its own target dir under the cache, which later runs reuse; the
# working tree is built into CARGO_TARGET_DIR (default target/). Both are
# release builds of jobs/bench/main.rs (`jobs-bench`, the tool
# jobs/bench/run.sh drives), which the working tree's build also uses to
# generate the inputs. Each round runs, for CSV then JSON-lines, both
# builds one after the other (which goes first alternates by round):
#   file: `jobs-bench csv|jsonl`, the transform as the processing stage
#         runs it (file in, checksummed files out), its own wall time;
#   cpu:  `jobs-bench csv-cpu|jsonl-cpu`, the transform alone on input in
#         memory, best of 5.
# It prints the median MB/s of each build per work and mode, and the
# ratio working tree / base (above 1: the working tree is faster).
# It exits 1 if the two builds do not count the same records.
# Env: BENCH_DIR (default /tmp/jobs-bench-compare), BENCH_BYTES (size of
#      each input, default 200 MB), BENCH_ROUNDS (default 5),
#      BENCH_BASE_TARGET (the base build's target dir).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
base_rev=${1:-main}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/terraform-provider-batch
base_target=${BENCH_BASE_TARGET:-$cache/bench-base-target}
head_target=${CARGO_TARGET_DIR:-$repo/target}
dir=${BENCH_DIR:-/tmp/jobs-bench-compare}
bytes=${BENCH_BYTES:-200000000}
rounds=${BENCH_ROUNDS:-5}

base_commit=$(git -C "$repo" rev-parse --verify "$base_rev^{commit}")
head_commit=$(git -C "$repo" rev-parse HEAD)
dirty=
git -C "$repo" diff --quiet HEAD || dirty=1
scratch=$(mktemp -d)
worktree="$scratch/base"
cleanup() {
  git -C "$repo" worktree remove --force "$worktree" 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
git -C "$repo" worktree add --quiet --detach "$worktree" "$base_commit"
(cd "$worktree" && CARGO_TARGET_DIR=$base_target cargo build --release -p batch-jobs --bin jobs-bench)
(cd "$repo" && CARGO_TARGET_DIR=$head_target cargo build --release -p batch-jobs --bin jobs-bench)
base_bin="$scratch/jobs-bench-base"
head_bin="$scratch/jobs-bench-head"
cp "$base_target/release/jobs-bench" "$base_bin"
cp "$head_target/release/jobs-bench" "$head_bin"

mkdir -p "$dir"
# The inputs are kept between runs of the same size.
csv_in="$dir/ghcn-$bytes.csv"
jsonl_in="$dir/yelp-$bytes.jsonl"
[ -s "$csv_in" ] || "$head_bin" gen-ghcn "$csv_in" "$bytes"
[ -s "$jsonl_in" ] || "$head_bin" gen-yelp "$jsonl_in" "$bytes"

results="$dir/compare-results.tsv"
: > "$results"
run() { # build work mode
  local build=$1 work=$2 mode=$3 bin=$base_bin src=$csv_in out
  [ "$build" = head ] && bin=$head_bin
  [ "$work" = jsonl ] && src=$jsonl_in
  if [ "$mode" = file ]; then
    # New output files every run, as the processing stage writes them.
    rm -f "$dir/out" "$dir/rej"
    out=$("$bin" "$work" "$src" "$dir/out" "$dir/rej" 2>/dev/null)
  else
    out=$("$bin" "$work-cpu" "$src")
  fi
  printf '%s\t%s\t%s\t%s\n' "$build" "$work" "$mode" "$out" >> "$results"
}
for round in $(seq 1 "$rounds"); do
  order="base head"
  [ $((round % 2)) = 0 ] && order="head base"
  for work in csv jsonl; do
    for mode in file cpu; do
      for build in $order; do run "$build" "$work" "$mode"; done
    done
  done
  echo "round $round/$rounds done" >&2
done
rm -f "$dir/out" "$dir/rej"

head_label="${head_commit:0:7}${dirty:+ + uncommitted changes}"
python3 - "$results" "${base_commit:0:7} ($base_rev)" "$head_label" "$rounds" <<'EOF'
import json, re, statistics, sys

path, base_label, head_label, rounds = sys.argv[1:5]
speeds, records = {}, {}
for line in open(path):
    build, work, mode, out = line.rstrip("\n").split("\t", 3)
    if mode == "file":
        report = json.loads(out)
        mbs = report["mb_per_s"]
        counts = (report["records_in"], report["records_ok"], report["records_rejected"])
        records.setdefault((work, counts), set()).add(build)
    else:
        mbs = float(re.search(r"([0-9.]+) MB/s", out).group(1))
    speeds.setdefault((work, mode, build), []).append(mbs)

print(f"base: {base_label}   working tree: {head_label}   {rounds} rounds, median MB/s")
print(f"{'work':6} {'mode':5} {'base':>8} {'working':>8} {'ratio':>6}")
for work in ("csv", "jsonl"):
    for mode in ("file", "cpu"):
        base = statistics.median(speeds[(work, mode, "base")])
        head = statistics.median(speeds[(work, mode, "head")])
        print(f"{work:6} {mode:5} {base:8.0f} {head:8.0f} {head / base:6.3f}")
# Both builds must have done the same work, or the figures compare
# different things.
for work in ("csv", "jsonl"):
    seen = [counts for (w, counts) in records if w == work]
    if len(seen) != 1 or records[(work, seen[0])] != {"base", "head"}:
        sys.exit(f"bench-compare FAILED: {work} record counts differ between the builds: {seen}")
    print(f"{work}: both builds counted records_in/ok/rejected = {seen[0]}")
EOF
