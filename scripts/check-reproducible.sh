#!/usr/bin/env bash
# Builds HEAD twice, in two fresh clones at different paths with separate
# CARGO_TARGET_DIRs (a shared one would reuse the first build's outputs and
# hide differences), and compares what users deploy:
#   - the Lambda zips (lambdas/build.sh): sha256;
#   - the job images (jobs/build-images.sh, buildah): image digest;
#   - the provider release zips, when the tree has scripts/release.sh
#     (make release VERSION=0.0.0-repro): sha256;
#   - that no binary holds a path of the build (clone, target dir, $CARGO_HOME).
# Prints a table; exits 1 on any difference, with a hint where (the zip
# entries that differ, the image config fields that differ).
# Slow (four release builds on a small machine): `make check-reproducible`,
# not part of `make test`. Only committed work is built: uncommitted changes
# are not in the clones (a warning says so).
#   REPRO_DIR=<dir>  where the clones and target dirs go (default: mktemp -d;
#                    removed at the end unless KEEP=1)
#   SKIP_IMAGES=1    zips only (no buildah)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rev=$(git rev-parse HEAD)
if ! git diff --quiet HEAD; then
  echo "check-reproducible: uncommitted changes are not built; checking $rev" >&2
fi
work=${REPRO_DIR:-$(mktemp -d /tmp/check-reproducible.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# The commit's time and the default zip location, as a user's build has them.
unset LAMBDA_DIR SOURCE_DATE_EPOCH
images=()
cleanup() {
  if [ "${#images[@]}" -gt 0 ]; then
    buildah --storage-driver vfs rmi "${images[@]}" >/dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" != 1 ] && [ -z "${REPRO_DIR:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT
if [ "${SKIP_IMAGES:-0}" != 1 ] && ! command -v buildah >/dev/null; then
  echo "check-reproducible: buildah is missing (make setup installs it; SKIP_IMAGES=1 checks the zips only)" >&2
  exit 69
fi

# Two different paths, of different lengths: a path that leaks into a binary
# shows up as a difference.
clones=("$work/a/terraform-provider-batch" "$work/second-build/src/tpb")
timings=()
build_one() {
  local n=$1 dir=$2 start
  git clone --quiet --no-local "$root" "$dir"
  git -C "$dir" -c advice.detachedHead=false checkout --quiet "$rev"
  # The pinned tool venv (cargo-lambda, zig) of this tree, not a fresh
  # download per clone; it holds no build output.
  ln -s "$root/.tools" "$dir/.tools"
  export CARGO_TARGET_DIR="$work/target-$n"
  start=$SECONDS
  echo "check-reproducible: build $n in $dir: Lambda zips" >&2
  bash "$dir/lambdas/build.sh" >&2
  timings+=("build $n Lambda zips: $((SECONDS - start)) s")
  if [ "${SKIP_IMAGES:-0}" != 1 ]; then
    start=$SECONDS
    echo "check-reproducible: build $n: job images" >&2
    BUILDER=buildah IMAGE_REPOSITORY="check-reproducible-$n-" IMAGE_TAG=repro \
      bash "$dir/jobs/build-images.sh" >&2
    for bin in procurement processing egress; do images+=("check-reproducible-$n-$bin:repro"); done
    timings+=("build $n job images: $((SECONDS - start)) s")
  fi
  if [ -f "$dir/scripts/release.sh" ]; then
    start=$SECONDS
    echo "check-reproducible: build $n: make release VERSION=0.0.0-repro" >&2
    make -C "$dir" release VERSION=0.0.0-repro >&2
    timings+=("build $n provider release: $((SECONDS - start)) s")
  fi
}
build_one 1 "${clones[0]}"
build_one 2 "${clones[1]}"

rows=()
differ=0
row() { # name, value in build 1, value in build 2
  local verdict=same
  if [ "$2" != "$3" ] || [ -z "$2" ]; then verdict=DIFFERENT; differ=1; fi
  rows+=("| $1 | ${2:0:16} | ${3:0:16} | $verdict |")
}
sha() { if [ -f "$1" ]; then sha256sum "$1" | cut -d' ' -f1; else echo "missing"; fi; }

# Names each differing entry of two zips and what differs in it.
zip_hint() {
  python3 - "$1" "$2" <<'EOF'
import sys, zipfile
a, b = (zipfile.ZipFile(p) for p in sys.argv[1:3])
ea = {i.filename: i for i in a.infolist()}
eb = {i.filename: i for i in b.infolist()}
if [i.filename for i in a.infolist()] != [i.filename for i in b.infolist()]:
    print(f"  entry order: {list(ea)} vs {list(eb)}")
for name in sorted(set(ea) | set(eb)):
    x, y = ea.get(name), eb.get(name)
    if x is None or y is None:
        print(f"  {name}: only in build {1 if y is None else 2}")
        continue
    for field in ("CRC", "file_size", "compress_size", "date_time", "external_attr", "create_system", "extra"):
        if getattr(x, field) != getattr(y, field):
            print(f"  {name}: {field} {getattr(x, field)!r} vs {getattr(y, field)!r}")
EOF
}

zip_paths=("target/lambda/prep/bootstrap.zip" "target/lambda/watcher/bootstrap.zip")
if [ -f "${clones[0]}/scripts/release.sh" ]; then
  while IFS= read -r z; do zip_paths+=("${z#"${clones[0]}/"}"); done < <(
    find "${clones[0]}" -path "${clones[0]}/.tools" -prune -o \
      -name 'terraform-provider-batch_0.0.0-repro_*' -type f -print | sort)
  [ "${#zip_paths[@]}" -gt 2 ] || { rows+=("| provider release files | none found | | DIFFERENT |"); differ=1; }
fi
hints=()
for rel in "${zip_paths[@]}"; do
  one=$(sha "${clones[0]}/$rel"); two=$(sha "${clones[1]}/$rel")
  row "$rel" "$one" "$two"
  if [ "$one" != "$two" ] && [ -f "${clones[0]}/$rel" ] && [ -f "${clones[1]}/$rel" ] && [[ "$rel" == *.zip ]]; then
    hints+=("$rel:" "$(zip_hint "${clones[0]}/$rel" "${clones[1]}/$rel")")
  fi
done

if [ "${SKIP_IMAGES:-0}" != 1 ]; then
  oci_config() {
    buildah --storage-driver vfs inspect --type image "$1" |
      python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["OCIv1"], indent=1, sort_keys=True))'
  }
  digest() {
    buildah --storage-driver vfs images --digests --noheading --format '{{.Digest}}' "$1" 2>/dev/null | sed -n 1p
  }
  for bin in procurement processing egress; do
    a="check-reproducible-1-$bin:repro" b="check-reproducible-2-$bin:repro"
    one=$(digest "$a"); two=$(digest "$b")
    row "image $bin" "$one" "$two"
    if [ "$one" != "$two" ]; then
      hints+=("image $bin (OCI config of build 1 vs 2):" "$(diff <(oci_config "$a") <(oci_config "$b") || true)")
    fi
  done
fi

# No path of either build in any binary that ships.
leaks=0
for n in 1 2; do
  dir=${clones[$((n - 1))]} target="$work/target-$n/x86_64-unknown-linux-gnu/release"
  for f in "$dir/target/lambda/prep/bootstrap" "$dir/target/lambda/watcher/bootstrap" \
           "$target/procurement" "$target/processing" "$target/egress"; do
    [ -f "$f" ] || continue
    found=$(strings -n 6 "$f" | grep -c -e "$work" -e "$cargo_home" -e "$root" || true)
    if [ "$found" != 0 ]; then
      leaks=1; hints+=("$f holds $found build path(s), e.g. $(strings -n 6 "$f" | grep -m1 -e "$work" -e "$cargo_home" -e "$root")")
    fi
  done
done
if [ "$leaks" = 0 ]; then rows+=("| build paths in binaries | none | none | same |"); else
  rows+=("| build paths in binaries | found | | DIFFERENT |"); differ=1; fi

echo "Reproducibility of $rev (two clones: ${clones[0]}, ${clones[1]})"
echo
echo "| artifact | build 1 (sha256/digest) | build 2 | verdict |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${timings[@]}"
if [ "$differ" != 0 ]; then
  echo
  echo "Where they differ:"
  printf '%s\n' "${hints[@]}"
  exit 1
fi
