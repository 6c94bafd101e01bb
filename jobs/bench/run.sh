#!/usr/bin/env bash
# make bench: generates a >= 1 GB GHCN-like CSV and a >= 1 GB Yelp-like
# JSON-lines file, then measures, one after another on the same files:
# our processing transform, the seed-style Python baseline, polars
# (POLARS_MAX_THREADS=1) and DuckDB (SET threads=1). Then a record-shaped
# XML catalogue (BENCH_XML_BYTES, default 200 MB): our xml_to_json
# (xmltodict mapping) against the seed's tool (xmltodict + json.dumps) and
# lxml's iterparse, whose outputs must be byte for byte ours. Prints one JSON line
# per run (wall time, peak RSS, records) to stdout and bench-results.jsonl.
# A plain `dd` copy of each input is timed first: the page-cache floor.
# Then it checks the run (compare.py): exits 1 if a tool crashed or the
# tools did not all count the same records, since then the timings compare
# different work.
# Images: photo-like JPEGs at 0.3, 2, 12 and 24 megapixels, each set
# filled to 224x224 JPEG q85 by ours (the stage's per-file function, the
# transform with plain writes, and its decode alone: the floor), Pillow
# seed-style and in draft mode, and libvips' thumbnail (pyvips,
# VIPS_CONCURRENCY=1); images_summary.py prints images per CPU-second and
# the ratios. The XML part also prints quick-xml's events alone
# (xml-scan): the parser's floor under ours.
# Env: BENCH_DIR (default /tmp/jobs-bench), BENCH_BYTES (default 1 GB),
#      BENCH_XML_BYTES (default 200 MB: xmltodict needs ~1 min per 100 MB),
#      BENCH_WORKS (default "csv jsonl xml images": which parts to run),
#      BENCH_SKIP (space-separated labels to skip, e.g. "python"),
#      BENCH_VENV (the polars/DuckDB virtualenv, default .tools/bench-venv),
#      BENCH_PLANT_MISMATCH (a label, e.g. "python": that tool gets the
#      input with one line more, to show that a mismatch fails the bench),
#      BENCH_PLANT_CRASH (a label: that tool is replaced by one that exits
#      3, to show that a crash fails the bench).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dir=${BENCH_DIR:-/tmp/jobs-bench}
bytes=${BENCH_BYTES:-1000000000}
xml_bytes=${BENCH_XML_BYTES:-200000000}
works=" ${BENCH_WORKS:-csv jsonl xml images} "
skip=" ${BENCH_SKIP:-} "
venv=${BENCH_VENV:-$repo/.tools/bench-venv}
plant=${BENCH_PLANT_MISMATCH:-}
mkdir -p "$dir"
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/pip" install -q -r "$repo/tools/bench-requirements.txt"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
# jobs-bench needs the transforms and codecs, not the AWS SDK (whose TLS
# library alone is minutes of C compilation).
(cd "$repo" && cargo build --release -p batch-jobs --no-default-features --features images --bin jobs-bench)
bench="$CARGO_TARGET_DIR/release/jobs-bench"
rules="$repo/jobs/rules/ghcn-daily.json"
case "$works" in *" csv "*) [ -s "$dir/ghcn.csv" ] || "$bench" gen-ghcn "$dir/ghcn.csv" "$bytes";; esac
case "$works" in *" jsonl "*) [ -s "$dir/yelp.jsonl" ] || "$bench" gen-yelp "$dir/yelp.jsonl" "$bytes";; esac
case "$works" in *" xml "*) [ -s "$dir/books.xml" ] || "$bench" gen-xml "$dir/books.xml" "$xml_bytes";; esac
results="$dir/bench-results.jsonl"; : > "$results"
py="$venv/bin/python"
measure() { # label work cmd...
  local label=$1 work=$2; shift 2
  case "$skip" in *" $label "*) return;; esac
  if [ "$label" = "$plant" ]; then
    # The planted input: the same file with its first line once more.
    { cat "$src"; head -n 1 "$src"; } > "$dir/planted.$work"
    set -- "${@/#"$src"/$dir/planted.$work}"
  fi
  if [ "$label" = "${BENCH_PLANT_CRASH:-}" ]; then set -- sh -c 'echo planted crash >&2; exit 3'; fi
  # Every tool writes new files, as the processing stage does (truncating
  # a previous run's 1 GB output would be timed too, and ext4 flushes a
  # truncated-and-rewritten file on close).
  rm -f "$dir/out.$label" "$dir/rej.$label"
  # Each tool starts with its input in the page cache (the big frames of
  # the tool before may have pushed it out).
  cat "$src" > /dev/null
  # A crash is recorded (measure.py writes its exit code) and the other
  # tools still run; compare.py fails the bench at the end.
  sync; "$py" "$here/measure.py" "$label/$work" -- "$@" | tee -a "$results" || failed="$failed $label/$work"
}
# One image set through one tool: new output directory, inputs in the
# page cache first.
measure_images() { # label work cmd...
  local label=$1 work=$2; shift 2
  case "$skip" in *" $label "*) return;; esac
  if [ "$label" = "${BENCH_PLANT_CRASH:-}" ]; then set -- sh -c 'echo planted crash >&2; exit 3'; fi
  rm -rf "$dir/img-out.$label"
  cat "$src"/* > /dev/null
  sync; "$py" "$here/measure.py" "$label/$work" -- "$@" | tee -a "$results" || failed="$failed $label/$work"
}
failed=
for work in csv jsonl; do
  case "$works" in *" $work "*) ;; *) continue;; esac
  src="$dir/ghcn.csv"; [ "$work" = jsonl ] && src="$dir/yelp.jsonl"
  # The kernel's share, for reference: copying the input to a new file
  # (read from the page cache, write into it) with no work at all.
  measure copy "$work" dd "if=$src" "of=$dir/out.copy" bs=256K status=none
  rm -f "$dir/out.copy"
  measure ours "$work" "$bench" "$work" "$src" "$dir/out.ours" "$dir/rej.ours"
  measure polars "$work" env POLARS_MAX_THREADS=1 "$py" "$here/frames.py" polars "$work" "$src" "$dir/out.polars" "$dir/rej.polars" "$rules"
  measure duckdb "$work" "$py" "$here/frames.py" duckdb "$work" "$src" "$dir/out.duckdb" "$dir/rej.duckdb" "$rules"
  measure python "$work" "$py" "$here/baseline.py" "$work" "$src" "$dir/out.python" "$dir/rej.python" "$rules"
done
same_output_failed=
case "$works" in *" xml "*)
  work=xml src="$dir/books.xml"
  measure copy xml dd "if=$src" "of=$dir/out.copy" bs=256K status=none
  rm -f "$dir/out.copy"
  measure ours xml "$bench" xml "$src" "$dir/out.ours" "$dir/rej.ours"
  # The floor under ours: quick-xml's events alone over the same bytes
  # (in memory, best of five), as the `dd` copy is the page cache's.
  "$bench" xml-scan "$src" | tee -a "$dir/xml-scan.txt" >&2
  measure xmltodict xml "$py" "$here/xml_baseline.py" xmltodict "$src" "$dir/out.xmltodict" "$dir/rej.xmltodict"
  measure lxml xml "$py" "$here/xml_baseline.py" lxml "$src" "$dir/out.lxml" "$dir/rej.lxml"
  # Same counts are not enough here: the JSON itself must be the same.
  for tool in xmltodict lxml; do
    case "$skip" in *" $tool "*) continue;; esac
    cmp -s "$dir/out.ours" "$dir/out.$tool" || same_output_failed="$same_output_failed $tool"
  done
  ;;
esac
if case "$works" in *" images "*) true;; *) false;; esac; then
  for set in "0.3mp 640 480 40" "2mp 1600 1200 20" "12mp 4000 3000 8" "24mp 6000 4000 4"; do
    read -r name width height count <<< "$set"
    src="$dir/photos/$name"
    [ -d "$src" ] || "$bench" gen-photos "$src" "$width" "$height" "$count"
    work="img-$name"
    out="$dir/img-out"
    measure_images ours "$work" "$bench" images "$src" "$out.ours"
    measure_images ours-plain "$work" "$bench" images-plain "$src" "$out.ours-plain"
    measure_images ours-decode-only "$work" "$bench" images-decode "$src" "$out.ours-decode-only"
    measure_images vips "$work" env VIPS_CONCURRENCY=1 "$py" "$here/images.py" vips "$src" "$out.vips"
    measure_images pillow-draft "$work" "$py" "$here/images.py" pillow-draft "$src" "$out.pillow-draft"
    measure_images pillow "$work" "$py" "$here/images.py" pillow "$src" "$out.pillow"
  done
  du -sh "$dir/photos"/* >&2
  "$py" "$here/images_summary.py" "$results"
fi
ls -l "$dir"/ghcn.csv "$dir"/yelp.jsonl "$dir"/books.xml 2>/dev/null || true
rm -f "$dir"/planted.*
status=0
[ -z "$same_output_failed" ] || { echo "bench FAILED: xml output differs from ours:$same_output_failed" >&2; status=1; }
# The check checks itself first (planted crashes and mismatches), so a
# broken compare.py cannot pass a bad run.
"$py" "$here/compare.py" --self-test >&2
"$py" "$here/compare.py" "$results" || status=1
# measure.py itself may have died before writing a line compare.py sees.
[ -z "$failed" ] || { echo "bench FAILED: exited non-zero:$failed" >&2; status=1; }
exit $status
