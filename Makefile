# terraform-provider-batch: build, test, demo and benchmark targets.
# Every target installs what it needs from the package registries
# (scripts/setup-tools.sh); nothing is assumed beyond cargo and python3.

SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help setup build test test-structure test-rust test-contract test-terraform test-demo test-upgrade lint fmt bench bench-provider bench-jobs bench-compare bench-lambdas bench-runner \
        fuzz fuzz-check build-images push-images build-lambdas cleanup-retained demo clean release \
        check-reproducible test-repro-zip chaos

help:
	@echo "make demo [DEMO=ghcn|xml|images|sftp|queue]  one whole pipeline run on this machine (moto, terraform, the local runner)"
	@echo "make test              set up tools, then run every test (what CI runs)"
	@echo "make test-upgrade      the previous release's state, planned by this build (part of make test)"
	@echo "make lint              cargo fmt --check, no two files importing each other, clippy -D warnings"
	@echo "make bench             benchmarks (figures go in BENCHMARKS.md)"
	@echo "make bench-compare     CSV/JSON-lines transforms of [BASE=main] and the working tree, side by side"
	@echo "make build             release build of the workspace"
	@echo "make build-images      container images of the three jobs (docker, else buildah)"
	@echo "                       [IMAGE_REPOSITORY=batch-jobs-] [IMAGE_TAG=<git rev>]: names <IMAGE_REPOSITORY><stage>:<IMAGE_TAG>"
	@echo "make push-images REGISTRY=<acct>.dkr.ecr.<region>.amazonaws.com [IMAGE_REPOSITORY=...] [IMAGE_TAG=...]"
	@echo "make release VERSION=x.y.z [GPG_KEY_ID=<key>] [DIST_DIR=dist]"
	@echo "                       provider zip, manifest, SHA256SUMS (and .sig) in the Registry's layout"
	@echo "make build-lambdas     bootstrap zips of prep and watcher (cargo-lambda)"
	@echo "make check-reproducible  build HEAD twice in two fresh clones; the Lambda zips and images must match (slow)"
	@echo "make cleanup-retained NAME=<pipeline> [REGION=...]   delete what destroy kept"
	@echo "make fuzz [TARGET=<name>] [FUZZ_SECONDS=60] [FUZZ_RUNS=n] [FUZZ_SANITIZER=none]   fuzz every parser of outside input (cargo-fuzz; docs/fuzzing.md)"
	@echo "make fuzz-check        that every fuzz target compiles (cargo check)"
	@echo "make chaos [CHAOS_SEED=1]  the fault scenarios at full count (docs/reliability.md; about 35 min)"

setup:
	@bash scripts/setup-tools.sh

# build and lint compile libjpeg-turbo (cmake, nasm: setup installs them).
build: setup
	$(CARGO) build --release --workspace

test: setup test-structure test-repro-zip test-rust test-contract test-terraform test-demo test-upgrade

test-rust:
	$(CARGO) test --workspace --all-features
	$(CARGO) test -p batch-jobs --test image -- --ignored

# A state written by the previous release (tests/upgrade/PREVIOUS_RELEASE)
# planned and applied by this build with no changes. The first run builds
# that release (debug) into ~/.cache/terraform-provider-batch/upgrade-target;
# later runs reuse it.
test-upgrade:
	bash tests/upgrade/build-previous.sh >/dev/null
	$(CARGO) test -p terraform-provider-batch --test upgrade_from_previous_release -- --ignored

# The AWS contract checker's own tests (botocore's service models as the
# oracle); provider/tests/aws_contract.rs runs it on recorded requests.
test-contract:
	.tools/venv/bin/python tests/contract/test_aws_contract.py

test-terraform:
	bash tests/terraform/run.sh

# The deterministic zip step of the Lambda zips (same bytes whatever the
# paths, mtimes and modes); the whole builds: make check-reproducible.
test-repro-zip:
	python3 tools/test_deterministic_zip.py

# Two release builds of HEAD in two fresh clones, compared (slow: not in
# make test).
check-reproducible: setup
	bash scripts/check-reproducible.sh

# The check that no two source files import each other, on crates written
# for each case, then on this tree.
test-structure:
	.tools/venv/bin/python tests/structure/test_module_cycles.py

# Every demo pipeline (scripts/demo.sh DEMO=...), each checking its own
# counts and exiting non-zero when they do not add up.
DEMOS := ghcn xml images sftp queue
test-demo:
	@for demo in $(DEMOS); do \
	  d=$$(mktemp -d); DEMO=$$demo DEMO_DIR=$$d bash scripts/demo.sh; s=$$?; rm -rf $$d; \
	  [ $$s -eq 0 ] || { echo "make test-demo: DEMO=$$demo failed (exit $$s)" >&2; exit $$s; }; \
	done

lint: setup
	$(CARGO) fmt --all -- --check
	python3 tests/structure/module_cycles.py .
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings

fmt:
	$(CARGO) fmt --all

bench: setup bench-provider bench-jobs bench-lambdas bench-runner

bench-provider:
	bash scripts/bench-provider.sh

bench-jobs:
	bash jobs/bench/run.sh

# The transforms of BASE (default main) and of the working tree, side by side.
bench-compare:
	bash scripts/bench-compare.sh $(or $(BASE),main)

bench-lambdas:
	bash lambdas/bench/run.sh
	$(CARGO) bench -q --profile dev -p batch-lambdas --bench summary -- target/bench-efs 5
	$(CARGO) bench -q --profile dev -p batch-lambdas --bench retention -- $(CURDIR)/target/bench-efs 3

bench-runner:
	bash runner/bench/run.sh
	$(CARGO) bench -q --profile dev -p batch-runner --bench queue_priority

fuzz:
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SANITIZER=$(or $(FUZZ_SANITIZER),address) bash scripts/fuzz.sh $(TARGET)

# The fault and kill scenarios at their full counts (make test runs each
# with a small one): 50 apply/plan/update/destroy cycles of batch_pipeline
# at 20% faults, 20 kills of the provider and of Terraform mid-apply and
# mid-destroy, 100 kills of each stage, 50 whole runs at 10% faults.
# CHAOS_SEED moves every scenario's seeds. docs/reliability.md.
chaos: setup
	FAULT_CYCLES=$(or $(FAULT_CYCLES),50) FAULT_SEED=$(or $(CHAOS_SEED),1) \
	  $(CARGO) test -p terraform-provider-batch --test pipeline_under_faults -- --nocapture
	KILL_POINTS=$(or $(KILL_POINTS),20) KILL_SEED=$(or $(CHAOS_SEED),1) \
	  $(CARGO) test -p terraform-provider-batch --test killed_apply -- --nocapture
	KILLS_PER_STAGE=$(or $(KILLS_PER_STAGE),100) KILL_SEED=$(or $(CHAOS_SEED),1) \
	  $(CARGO) test -p batch-jobs --all-features --test killed_stages -- --nocapture
	CHAOS_RUNS=$(or $(CHAOS_RUNS),50) CHAOS_SEED=$(or $(CHAOS_SEED),1) CHAOS_RATE=$(or $(CHAOS_RATE),0.1) \
	  $(CARGO) test -p batch-runner --test faulty_run -- --nocapture

# That every fuzz target still compiles (cargo check, minutes from cold:
# not in make test).
fuzz-check:
	bash scripts/fuzz.sh --check

# IMAGE_REPOSITORY and IMAGE_TAG (see jobs/build-images.sh) reach the script
# from the command line or the environment.
build-images: setup
	bash jobs/build-images.sh

push-images:
	@test -n "$(REGISTRY)" || { echo "usage: make push-images REGISTRY=<acct>.dkr.ecr.<region>.amazonaws.com [IMAGE_REPOSITORY=batch-jobs-] [IMAGE_TAG=<tag>]"; exit 2; }
	PUSH=1 REGISTRY=$(REGISTRY) bash jobs/build-images.sh

# VERSION, GPG_KEY_ID and DIST_DIR reach the script from the command line
# or the environment; it refuses a VERSION that is not semver.
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=x.y.z [GPG_KEY_ID=<key>] [DIST_DIR=dist]"; exit 2; }
	VERSION=$(VERSION) bash scripts/release.sh

build-lambdas:
	bash lambdas/build.sh

cleanup-retained:
	@test -n "$(NAME)" || { echo "usage: make cleanup-retained NAME=<pipeline> [REGION=...]"; exit 2; }
	bash modules/batch-pipeline/scripts/cleanup-retained.sh --name $(NAME) $(if $(REGION),--region $(REGION)) --delete

demo: setup
	DEMO=$(DEMO) bash scripts/demo.sh

clean:
	$(CARGO) clean
	rm -rf .tools
