#!/usr/bin/env bash
# Builds the provider of the previous release (tests/upgrade/PREVIOUS_RELEASE)
# and prints the path of its binary on stdout (the only line on stdout).
#
# The source is checked out in a temporary git worktree, removed afterwards;
# the build goes to a target dir kept between runs, and the binary is kept
# per commit, so only the first run pays for the build.
#   UPGRADE_CACHE   default $HOME/.cache/terraform-provider-batch/upgrade-target
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
release_file="$repo/tests/upgrade/PREVIOUS_RELEASE"
cache=${UPGRADE_CACHE:-$HOME/.cache/terraform-provider-batch/upgrade-target}

field() {
  sed -n "s/^$1=//p" "$release_file" | head -n1
}
commit=$(field commit)
version=$(field version)
if [[ -z "$commit" || -z "$version" ]]; then
  echo "build-previous: $release_file needs commit= and version= lines" >&2
  exit 2
fi
if ! full=$(git -C "$repo" rev-parse --verify --quiet "$commit^{commit}"); then
  echo "build-previous: commit $commit (release $version) is not in this clone; fetch it (git fetch --unshallow?)" >&2
  exit 2
fi

bin="$cache/bin/$full/terraform-provider-batch"
if [[ -x "$bin" ]]; then
  echo "build-previous: release $version ($full) already built" >&2
  echo "$bin"
  exit 0
fi

src=$(mktemp -d "${TMPDIR:-/tmp}/previous-release.XXXXXX")
cleanup() {
  git -C "$repo" worktree remove --force "$src" >/dev/null 2>&1 || rm -rf "$src"
  git -C "$repo" worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "build-previous: building release $version ($full) in $src, target $cache" >&2
git -C "$repo" worktree add --detach --quiet "$src" "$full"
start=$(date +%s)
# Stdout is the binary's path only: cargo's output goes to stderr.
(cd "$src" && CARGO_TARGET_DIR="$cache" CARGO_INCREMENTAL=0 \
  cargo build --locked -p terraform-provider-batch --bin terraform-provider-batch) >&2
echo "build-previous: built in $(( $(date +%s) - start )) s" >&2

mkdir -p "$(dirname "$bin")"
# Copied, then renamed, so an interrupted copy is never taken for a build.
cp "$cache/debug/terraform-provider-batch" "$bin.partial"
mv "$bin.partial" "$bin"
echo "$bin"
