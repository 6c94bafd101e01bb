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
cargo lambda build --release --target "$target" -p batch-lambdas \
  --bin prep --bin watcher --output-format zip --lambda-dir "$lambda_dir"
for fn in prep watcher; do
  zip="$lambda_dir/$fn/bootstrap.zip"
  [ -s "$zip" ] || { echo "build-lambdas: $zip was not written" >&2; exit 70; }
  echo "$zip $(stat -c %s "$zip") bytes"
done
