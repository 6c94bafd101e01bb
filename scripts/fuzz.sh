#!/usr/bin/env bash
# Fuzzes the provider's msgpack decoder with cargo-fuzz (libFuzzer).
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP lets the stable toolchain
# accept them, so no second toolchain is needed.
# Usage: scripts/fuzz.sh [SECONDS]   (default 60)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
cd "$root/fuzz"
mkdir -p corpus/msgpack_decode
RUSTC_BOOTSTRAP=1 cargo fuzz run msgpack_decode corpus/msgpack_decode -- \
  -max_total_time="$seconds" -max_len=4096
