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
# It prints the best and the median MB/s of each build per work and mode,
# each with the ratio working tree / base (above 1: the working tree is
# faster). It exits 1 if the two builds do not count the same records or
# their outputs' checksums differ.
# Then, unless BENCH_PROVIDER=0, the provider: both release builds'
# start-to-handshake (provider/benches/handshake.rs with HANDSHAKE_COMPARE)
# and `terraform plan` on an unchanged examples/local against moto
# (provider/tests/bench_plan.rs with BENCH_PLAN_COMPARE), interleaved, each
# with the ratio working tree / base (below 1: the working tree is faster).
# Env: BENCH_DIR (default /tmp/jobs-bench-compare), BENCH_BYTES (size of
#      each input, default 200 MB), BENCH_ROUNDS (default 5),
#      BENCH_BASE_TARGET (the base build's target dir), BENCH_PROVIDER.
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
if [ "${BENCH_PROVIDER:-1}" != 0 ]; then
  (cd "$worktree" && CARGO_TARGET_DIR=$base_target cargo build --release -p terraform-provider-batch --bin terraform-provider-batch)
  # Its own folder: Terraform's dev_overrides point at a folder.
  mkdir -p "$scratch/provider-base"
  cp "$base_target/release/terraform-provider-batch" "$scratch/provider-base/"
fi

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
  local sums=-
  if [ "$mode" = file ]; then
    # New output files every run, as the processing stage writes them.
    rm -f "$dir/out" "$dir/rej" "$dir/err"
    out=$("$bin" "$work" "$src" "$dir/out" "$dir/rej" 2>"$dir/err")
    # The checksums of both outputs (jobs-bench prints them on stderr).
    sums=$(grep crc64nvme "$dir/err")
  else
    out=$("$bin" "$work-cpu" "$src")
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$build" "$work" "$mode" "$sums" "$out" >> "$results"
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
rm -f "$dir/out" "$dir/rej" "$dir/err"

head_label="${head_commit:0:7}${dirty:+ + uncommitted changes}"
python3 - "$results" "${base_commit:0:7} ($base_rev)" "$head_label" "$rounds" <<'EOF'
import json, re, statistics, sys

path, base_label, head_label, rounds = sys.argv[1:5]
speeds, outputs = {}, {}
for line in open(path):
    build, work, mode, sums, out = line.rstrip("\n").split("\t", 4)
    if mode == "file":
        report = json.loads(out)
        mbs = report["mb_per_s"]
        counts = (report["records_in"], report["records_ok"], report["records_rejected"])
        outputs.setdefault(work, set()).add((build, counts, sums))
    else:
        mbs = float(re.search(r"([0-9.]+) MB/s", out).group(1))
    speeds.setdefault((work, mode, build), []).append(mbs)

# Other work on the host only ever slows a run down, so the best of the
# rounds is the steadier figure; the median is shown beside it.
print(f"base: {base_label}   working tree: {head_label}   {rounds} rounds, MB/s")
print(f"{'work':6} {'mode':5} {'base best':>10} {'working best':>13} {'ratio':>6}   {'base median':>12} {'working median':>15} {'ratio':>6}")
for work in ("csv", "jsonl"):
    for mode in ("file", "cpu"):
        base, head = speeds[(work, mode, "base")], speeds[(work, mode, "head")]
        b, h = max(base), max(head)
        bm, hm = statistics.median(base), statistics.median(head)
        print(f"{work:6} {mode:5} {b:10.0f} {h:13.0f} {h / b:6.3f}   {bm:12.0f} {hm:15.0f} {hm / bm:6.3f}")
# Both builds must have done the same work, or the figures compare
# different things: the same counts and byte-identical outputs.
for work in ("csv", "jsonl"):
    seen = {(counts, sums) for (_, counts, sums) in outputs[work]}
    if len(seen) != 1:
        sys.exit(f"bench-compare FAILED: {work} counts or outputs differ between the builds: {sorted(seen)}")
    counts, sums = seen.pop()
    print(f"{work}: both builds, every round: records in/ok/rejected {counts}, {sums}")
EOF

if [ "${BENCH_PROVIDER:-1}" != 0 ]; then
  echo
  echo "provider: working tree ($head_label) beside base ${base_commit:0:7} ($base_rev)"
  bash "$repo/scripts/setup-tools.sh" >/dev/null
  (cd "$repo" && CARGO_TARGET_DIR=$head_target HANDSHAKE_COMPARE="$scratch/provider-base/terraform-provider-batch" \
    cargo bench -p terraform-provider-batch --bench handshake)
  (cd "$repo" && CARGO_TARGET_DIR=$head_target BENCH_PLAN_COMPARE="$scratch/provider-base" \
    cargo test --release -p terraform-provider-batch --test bench_plan -- --ignored --nocapture)
fi
