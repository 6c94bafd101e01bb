# terraform-provider-batch: build, test and demo targets.
# Every target installs what it needs (scripts/setup-tools.sh) from the
# package registries; nothing is assumed beyond cargo and python3.

SHELL := /bin/bash
CARGO ?= cargo
PROFILE_DIR := target/release
PROVIDER_BIN := $(PROFILE_DIR)/terraform-provider-batch

.PHONY: help setup build provider test lint fmt bench fuzz clean

help:
	@echo "make demo          run a whole pipeline on this machine (moto + terraform + local runner)"
	@echo "make test          set up tools, then run every test (what CI runs)"
	@echo "make lint          cargo fmt --check and clippy -D warnings"
	@echo "make bench         benchmarks; results in BENCHMARKS.md"
	@echo "make build         release build of the provider and the job binaries"
	@echo "make build-images  container images of the three jobs (docker, else buildah)"
	@echo "make build-lambdas bootstrap zips of prep and watcher (cargo-lambda)"
	@echo "make fuzz          fuzz the msgpack decoder (needs cargo-fuzz and nightly)"

setup:
	@bash scripts/setup-tools.sh

build:
	$(CARGO) build --release --workspace

provider:
	$(CARGO) build --release -p terraform-provider-batch

test: setup
	$(CARGO) test --workspace --all-features

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

fmt:
	$(CARGO) fmt --all

bench: setup
	bash scripts/bench-provider.sh

fuzz:
	bash scripts/fuzz.sh

clean:
	$(CARGO) clean
	rm -rf .tools
