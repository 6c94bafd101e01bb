#!/usr/bin/env bash
# Builds the three job binaries as the images carry them and prints the
# directory that holds them (stdout; cargo's output goes to stderr). Used by
# jobs/build-images.sh, and by the runner's bench so that it times the
# binaries that run in AWS, not the workspace's development build: the two
# differ in start cost (static and fat LTO against dynamic and thin LTO:
# 0.56 against 0.98 ms for `processing --version`, BENCHMARKS.md).
#
# Static binaries: the only Rust target here is x86_64-unknown-linux-gnu, so
# glibc is linked statically with +crt-static (checked below).
# Reproducible: the binaries are built with the build directory and
# $CARGO_HOME remapped (RUSTFLAGS for Rust, CFLAGS' -ffile-prefix-map for the
# C of libjpeg-turbo), and their code is built as one LLVM module on one
# thread (below), since LLVM's choices otherwise followed heap order.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# Panic messages carry source paths: dependencies' are absolute (under
# $CARGO_HOME), generated code's under the target dir.
# C code (libjpeg-turbo, built by cmake through cc's flags) likewise:
# __FILE__ in its asserts and error tables would carry the build path.
cflags="-ffile-prefix-map=$repo=/build -ffile-prefix-map=$cargo_home=/cargo -ffile-prefix-map=$CARGO_TARGET_DIR=/target"
# Fat LTO with one codegen unit: the whole binary is one LLVM module
# optimised on one thread. With thin LTO (the workspace's release profile)
# LLVM works on many modules in parallel threads, some of its passes order
# things by pointer, and the code followed the heap's layout: three links of
# the same objects gave three different binaries; these settings gave the
# same sha256 three times (BENCHMARKS.md, "What a Lambda zip weighs"), and
# images of 20.6 MB instead of 26.8 MB.
CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
CFLAGS_x86_64_unknown_linux_gnu="$cflags" \
RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$repo=/build --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$CARGO_TARGET_DIR=/target -C debuginfo=0" \
  cargo build --release --target "$target" -p batch-jobs \
  --bin procurement --bin processing --bin egress >&2
out="$CARGO_TARGET_DIR/$target/release"
for bin in procurement processing egress; do
  if ! file "$out/$bin" | grep -qE 'static(-pie)? linked|statically linked'; then
    echo "$out/$bin is not statically linked: $(file "$out/$bin")" >&2; exit 1
  fi
done
echo "$out"
