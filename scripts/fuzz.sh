#!/usr/bin/env bash
# Fuzzes every parser of outside input with cargo-fuzz (libFuzzer), one
# target after another, and prints per target: executions, exec/s,
# coverage (libFuzzer's cov/ft) and crashes. docs/fuzzing.md lists the
# targets and what each asserts.
#
# Usage: scripts/fuzz.sh [TARGET]      (no TARGET: all of them)
#        scripts/fuzz.sh --check       (only compile every target)
#   FUZZ_SECONDS  time budget per target (default 60)
#   FUZZ_RUNS     stop a target after this many executions instead (e.g.
#                 10000000); FUZZ_SECONDS still bounds it
#   FUZZ_NICE     niceness of the fuzzing processes (default 10: the
#                 machine is shared)
#   FUZZ_TMPDIR   where targets write their scratch files (layout_readers
#                 writes four per input): a private directory under
#                 /dev/shm by default, removed at the end (on this
#                 machine's disk-backed /tmp the same target ran 7x
#                 slower)
#   FUZZ_SANITIZER  address (default) or none: AddressSanitizer catches
#                 memory errors in unsafe code and C dependencies; without
#                 it the same targets (same assertions, debug assertions
#                 and overflow checks) run 4-5x more executions per second,
#                 for volume runs
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable
# toolchain accept them, so no second toolchain is needed. Each fuzz crate
# (fuzz/<crate>/) is its own workspace, built with sanitizer flags into
# its own target directory ($CARGO_TARGET_DIR/fuzz-<crate> when
# CARGO_TARGET_DIR is set, else fuzz/target/<crate>).
#
# Seeds: the small inputs committed under fuzz/corpus/<target>/, plus some
# made here from the repo's fixtures; libFuzzer adds what it finds to
# fuzz/work/<target>/ (not committed) and writes a crashing input to
# fuzz/artifacts/<target>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
runs=${FUZZ_RUNS:-}
niceness=${FUZZ_NICE:-10}
sanitizer=${FUZZ_SANITIZER:-address}
case "$sanitizer" in
  address | none) ;;
  *) echo "FUZZ_SANITIZER must be address or none, not $sanitizer" >&2; exit 2 ;;
esac
only=${1:-}
CARGO_FUZZ_VERSION=0.13.2

# target -> fuzz crate (fuzz/<crate>/fuzz_targets/<target>.rs)
TARGETS=(
  provider:msgpack_decode
  provider:json_decode
  jobs:csv_ghcn
  jobs:csv_inline_rules
  jobs:jsonl_calc
  jobs:layout_readers
  jobs:xml_to_json
  jobs:image_resize
  lambdas:prep_event
  lambdas:watcher_event
  runner:asl_load
)

# --check: only that every target compiles (cargo check of each fuzz
# crate, no sanitizer build, nothing run).
if [[ "$only" == "--check" ]]; then
  for crate in $(printf '%s\n' "${TARGETS[@]%%:*}" | uniq); do
    [[ -f "$root/fuzz/$crate/Cargo.lock" ]] || cp "$root/Cargo.lock" "$root/fuzz/$crate/Cargo.lock"
    target_dir=${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz-check}
    echo "== cargo check fuzz/$crate"
    RUSTC_BOOTSTRAP=1 cargo check --manifest-path "$root/fuzz/$crate/Cargo.toml" --bins \
      --target-dir "${target_dir:-$root/fuzz/target/check}"
  done
  exit 0
fi

selected=()
for entry in "${TARGETS[@]}"; do
  if [[ -z "$only" || "${entry#*:}" == "$only" ]]; then selected+=("$entry"); fi
done
if [[ ${#selected[@]} -eq 0 ]]; then
  echo "unknown fuzz target: $only (known: ${TARGETS[*]#*:})" >&2
  exit 2
fi

scratch_root=${FUZZ_TMPDIR:-}
if [[ -z "$scratch_root" && -d /dev/shm && -w /dev/shm ]]; then scratch_root=/dev/shm; fi
scratch=$(mktemp -d "${scratch_root:-${TMPDIR:-/tmp}}/batch-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# Seeds made from fixtures too large or too central to copy into the
# corpus: the shipped rule set as an inline one, the emitted state machine.
seed_from_fixtures() {
  local target=$1 work=$2
  case "$target" in
    csv_inline_rules)
      for data in "$root"/fuzz/corpus/csv_ghcn/*; do
        { cat "$root/jobs/rules/ghcn-daily.json"; printf '\n===\n'; cat "$data"; } \
          > "$work/ghcn-$(basename "$data")"
      done
      ;;
    asl_load) cp "$root/runner/tests/fixtures/definition.json" "$work/definition.json" ;;
  esac
}

summary=()
failed=0
for entry in "${selected[@]}"; do
  crate=${entry%%:*}
  target=${entry#*:}
  dir="$root/fuzz/$crate"
  # One target directory per sanitizer: switching must not rebuild.
  suffix=${sanitizer/address/}
  suffix=${suffix:+-$suffix}
  target_dir=${CARGO_TARGET_DIR:+$CARGO_TARGET_DIR/fuzz-$crate$suffix}
  target_dir=${target_dir:-$root/fuzz/target/$crate$suffix}
  work="$root/fuzz/work/$target"
  artifacts="$root/fuzz/artifacts/$target"
  seeds="$root/fuzz/corpus/$target"
  mkdir -p "$work" "$artifacts" "$seeds"
  seed_from_fixtures "$target" "$work"
  # The workspace's lock file pins the versions the fuzz crate shares with
  # the product; cargo adds only libfuzzer-sys to it.
  [[ -f "$dir/Cargo.lock" ]] || cp "$root/Cargo.lock" "$dir/Cargo.lock"

  echo "== $target (fuzz/$crate, sanitizer $sanitizer, ${seconds}s${runs:+, at most $runs runs})"
  log="$root/fuzz/work/$target.log"
  limits=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/")
  [[ -n "$runs" ]] && limits+=(-runs="$runs")
  status=0
  TMPDIR="$scratch" RUSTC_BOOTSTRAP=1 nice -n "$niceness" cargo fuzz run --sanitizer "$sanitizer" --fuzz-dir "$dir" --target-dir "$target_dir" \
    "$target" "$work" "$seeds" -- "${limits[@]}" > "$log" 2>&1 || status=$?
  grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written|thread .* panicked)' "$log" || true

  # The last of each figure libFuzzer printed (none if the build failed).
  last() { grep -oE "$1" "$log" | tail -1 || true; }
  execs=$(last '^stat::number_of_executed_units: *[0-9]+' | grep -oE '[0-9]+$' || true)
  rate=$(last '^stat::average_exec_per_sec: *[0-9]+' | grep -oE '[0-9]+$' || true)
  cov=$(last 'cov: [0-9]+ ft: [0-9]+')
  crash=$(last 'Test unit written to [^ ]+' | sed 's/Test unit written to //')
  if [[ $status -ne 0 || -n "$crash" ]]; then
    failed=1
    result="CRASH ${crash:-(exit $status, see $log)}"
  else
    result="no crash"
  fi
  summary+=("$(printf '%-18s execs %-10s exec/s %-7s %-22s %s' "$target" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$result")")
done

echo
echo "== fuzzing summary ($(date -u +%Y-%m-%dT%H:%MZ), sanitizer $sanitizer, ${seconds}s per target${runs:+, at most $runs runs})"
printf '%s\n' "${summary[@]}"
exit $failed
