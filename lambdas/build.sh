#!/usr/bin/env bash
# Builds the prep and watcher `bootstrap` zips with cargo-lambda:
#   target/lambda/prep/bootstrap.zip
#   target/lambda/watcher/bootstrap.zip
# (the paths modules/batch-pipeline's `lambdas` variable expects).
#
# cargo-lambda and zig come from PyPI (tools/lambda-requirements.txt) into
# .tools/venv; nothing else is assumed beyond python3 and cargo.
#
#   LAMBDA_ARCH=x86_64 (default) -> x86_64-unknown-linux-gnu, runtime provided.al2023
#   LAMBDA_ARCH=arm64            -> aarch64-unknown-linux-gnu; needs that Rust
#                                   std (`rustup target add aarch64-unknown-linux-gnu`),
#                                   and `architecture = "arm64"` in the module.
# CARGO_TARGET_DIR is honoured for the build; the zips always land in
# <repo>/target/lambda (LAMBDA_DIR overrides).
#
# Reproducible: the same commit gives byte-identical zips wherever and
# whenever it is built (scripts/check-reproducible.sh checks it), so the
# module's `source_code_hash` changes only when the code does. cargo-lambda
# builds the binary only; tools/deterministic_zip.py zips it with the commit
# time (SOURCE_DATE_EPOCH, default `git log -1 --format=%ct`), mode 0755,
# sorted entries. The build directory and $CARGO_HOME are remapped so no
# path of this machine ends up in the binary.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.tools/venv"
req="$root/tools/lambda-requirements.txt"
stamp="$venv/.lambda-requirements.sha256"
lambda_dir=${LAMBDA_DIR:-$root/target/lambda}

want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/cargo-lambda" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "build-lambdas: installing cargo-lambda and zig into $venv" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" > "$stamp"
fi
# cargo finds the `lambda` subcommand on PATH; cargo-lambda finds zig
# through the venv's python (`python -m ziglang`).
export PATH="$venv/bin:$PATH"

case "${LAMBDA_ARCH:-x86_64}" in
  x86_64) target=x86_64-unknown-linux-gnu ;;
  arm64)  target=aarch64-unknown-linux-gnu ;;
  *) echo "build-lambdas: LAMBDA_ARCH must be x86_64 or arm64" >&2; exit 64 ;;
esac
if ! rustc --print sysroot >/dev/null 2>&1 || \
   [ ! -d "$(rustc --print sysroot)/lib/rustlib/$target" ]; then
  echo "build-lambdas: the Rust standard library for $target is not installed" >&2
  echo "              (rustup target add $target)" >&2
  exit 69
fi

cd "$root"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null) || {
    echo "build-lambdas: not a git checkout; set SOURCE_DATE_EPOCH (seconds) for the zips' timestamps" >&2; exit 65; }
fi
export SOURCE_DATE_EPOCH
cargo_home=${CARGO_HOME:-$HOME/.cargo}
target_dir=${CARGO_TARGET_DIR:-$root/target}
# Panic messages and file!() carry source paths: dependencies' are absolute
# (under $CARGO_HOME), generated code's under the target dir; all three
# roots are rewritten to fixed names.
flags="--remap-path-prefix=$root=/build --remap-path-prefix=$cargo_home=/cargo"
flags="$flags --remap-path-prefix=$target_dir=/target -C debuginfo=0"
# RUSTFLAGS replaces the build.rustflags cargo-lambda passes, which on
# x86_64 is its -C target-cpu=haswell (every Lambda x86_64 host has it):
# kept, so the code is what cargo-lambda alone would build.
[ "$target" = x86_64-unknown-linux-gnu ] && flags="$flags -C target-cpu=haswell"
export RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }$flags"
cargo lambda build --release --target "$target" -p batch-lambdas \
  --bin prep --bin watcher --output-format binary --lambda-dir "$lambda_dir"
for fn in prep watcher; do
  bin="$lambda_dir/$fn/bootstrap"
  zip="$lambda_dir/$fn/bootstrap.zip"
  [ -s "$bin" ] || { echo "build-lambdas: $bin was not written" >&2; exit 70; }
  python3 "$root/tools/deterministic_zip.py" "$zip" "bootstrap=$bin"
  echo "$zip $(stat -c %s "$zip") bytes (sha256 $(sha256sum "$zip" | cut -d' ' -f1))"
done
