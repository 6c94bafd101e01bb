#!/usr/bin/env bash
# Builds the procurement, processing and egress images (make build-images).
#
# Static binaries: the only Rust target here is x86_64-unknown-linux-gnu, so
# glibc is linked statically with +crt-static (checked below). Images are
# built with docker when a daemon answers, else with buildah (daemonless:
# vfs storage, chroot isolation); BUILDER=docker|buildah chooses. Tags: batch-jobs-<bin>:<git rev>.
# PUSH=1 REGISTRY=<acct>.dkr.ecr.<region>.amazonaws.com also tags and pushes
# (log in first: aws ecr get-login-password | docker/buildah login ...).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
rev=$(git rev-parse --short=12 HEAD)
git diff --quiet -- jobs || rev="$rev-dirty"
target=x86_64-unknown-linux-gnu
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target "$target" -p batch-jobs \
  --bin procurement --bin processing --bin egress
bins="procurement processing egress"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
for bin in $bins; do
  src="$CARGO_TARGET_DIR/$target/release/$bin"
  if ! file "$src" | grep -qE 'static(-pie)? linked|statically linked'; then
    echo "$src is not statically linked: $(file "$src")" >&2; exit 1
  fi
  cp "$src" "$ctx/$bin"
done
cp /etc/ssl/certs/ca-certificates.crt "$ctx/"   # Debian package ca-certificates
printf 'job:x:65532:65532:job:/nonexistent:/sbin/nologin\n' > "$ctx/passwd"
printf 'job:x:65532:\n' > "$ctx/group"
# BUILDER=docker|buildah forces one (the image test needs buildah's copy).
builder=${BUILDER:-}
if [ -z "$builder" ]; then
  if docker info >/dev/null 2>&1; then builder=docker; else builder=buildah; fi
fi
case "$builder" in
  docker) ;;
  buildah) command -v buildah >/dev/null || { echo "no docker daemon and no buildah (apt-get install -y buildah)" >&2; exit 1; } ;;
  *) echo "BUILDER must be docker or buildah, not $builder" >&2; exit 1 ;;
esac
for bin in $bins; do
  tag="batch-jobs-$bin:$rev"
  if [ "$builder" = docker ]; then
    docker build -q -f jobs/Dockerfile --build-arg BIN="$bin" -t "$tag" "$ctx" >/dev/null
    size=$(docker image inspect -f '{{.Size}}' "$tag")
  else
    buildah --storage-driver vfs bud --quiet --isolation chroot -f jobs/Dockerfile \
      --build-arg BIN="$bin" -t "$tag" "$ctx" >/dev/null
    size=$(buildah --storage-driver vfs images --format '{{.Size}}' "$tag" | head -1)
  fi
  echo "built $tag with $builder (size $size)"
  if [ "${PUSH:-0}" = 1 ]; then
    : "${REGISTRY:?set REGISTRY to push}"
    remote="$REGISTRY/batch-jobs-$bin:$rev"
    if [ "$builder" = docker ]; then docker tag "$tag" "$remote" && docker push "$remote"
    else buildah --storage-driver vfs push "$tag" "docker://$remote"; fi
  fi
done
