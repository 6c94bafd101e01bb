#!/usr/bin/env bash
# Provider benchmarks: start-to-handshake (release build, AutoMTLS, against
# a /bin/true process-start baseline in the same run) and, through real
# Terraform against moto, the wall time of a plan on an unchanged pipeline
# and the AWS calls one refresh makes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup-tools.sh
cargo bench -p terraform-provider-batch --bench handshake
cargo test --release -p terraform-provider-batch --test bench_plan -- --ignored --nocapture
