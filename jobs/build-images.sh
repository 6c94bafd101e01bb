#!/usr/bin/env bash
# Builds the procurement, processing and egress images (make build-images).
#
# Static binaries (jobs/build-static.sh: glibc linked statically, fat LTO,
# paths remapped). Images are built with docker when a daemon answers, else
# with buildah (daemonless: vfs storage, chroot isolation);
# BUILDER=docker|buildah chooses.
#
# Names: <IMAGE_REPOSITORY><bin>:<IMAGE_TAG>, one per bin (procurement,
# processing, egress):
#   IMAGE_REPOSITORY  repository name prefix, default batch-jobs-
#                     (batch-jobs-egress); ghcn-validation/ matches the ECR
#                     repositories <name>/<stage> of examples/complete
#   IMAGE_TAG         default: git rev-parse --short=12 HEAD, plus -dirty when
#                     jobs/ has uncommitted changes
# CA certificates: jobs/ca-bundle.sh finds the host's bundle (SSL_CERT_FILE,
# else the usual path of Debian/Ubuntu/Alpine, Fedora/RHEL/Amazon Linux,
# openSUSE or macOS) and fails with where it looked when there is none.
# PUSH=1 REGISTRY=<acct>.dkr.ecr.<region>.amazonaws.com also pushes each image
# to $REGISTRY/<IMAGE_REPOSITORY><bin>:<IMAGE_TAG> (log in first:
# aws ecr get-login-password | docker login --username AWS --password-stdin
# $REGISTRY, or buildah login the same way). REGISTRY is checked before
# anything is built. REGISTRY_TLS_VERIFY=false pushes over plain HTTP, for a
# registry on this machine (127.0.0.1:5000); never for a remote one.
# Reproducible: nothing of the build machine, path or time goes into an
# image (checked by scripts/check-reproducible.sh; jobs/build-static.sh
# says how the binaries are made so). SOURCE_DATE_EPOCH (default: the commit
# time, `git log -1 --format=%ct`) is the images' created time and every
# file's mtime; files get fixed modes (binaries 0755, the rest 0644).
# buildah: `bud --timestamp` (buildah >= 1.20; it also fixes the history and
# the layer's file times). docker: BuildKit >= 0.13 with
#   SOURCE_DATE_EPOCH=... docker buildx build \
#     --provenance=false --output type=docker,rewrite-timestamp=true ...
# (what the docker branch below runs; only the buildah path is tested here,
# having no docker daemon).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
if [ "${PUSH:-0}" = 1 ] && [ -z "${REGISTRY:-}" ]; then
  echo "PUSH=1 needs REGISTRY=<acct>.dkr.ecr.<region>.amazonaws.com (where to push); nothing built" >&2; exit 2
fi
case "${REGISTRY_TLS_VERIFY:-true}" in
  true) ;;
  false)
    case "${REGISTRY:-}" in
      127.0.0.1:*|localhost:*|'[::1]':*) ;;
      *) echo "REGISTRY_TLS_VERIFY=false is only for a registry on this machine (127.0.0.1:<port>), not $REGISTRY; nothing built" >&2; exit 2 ;;
    esac ;;
  *) echo "REGISTRY_TLS_VERIFY must be true or false, not $REGISTRY_TLS_VERIFY; nothing built" >&2; exit 2 ;;
esac
image_repository=${IMAGE_REPOSITORY-batch-jobs-}
if ! [[ "$image_repository" =~ ^([a-z0-9]+([._-]+[a-z0-9]+)*/)*([a-z0-9]+([._-]+[a-z0-9]+)*[._/-]?)?$ ]]; then
  echo "IMAGE_REPOSITORY=$image_repository: lowercase letters, digits and . _ - / only (a repository name prefix such as batch-jobs- or ghcn-validation/)" >&2; exit 2
fi
if [ -n "${IMAGE_TAG:-}" ]; then
  rev=$IMAGE_TAG
  if ! [[ "$rev" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
    echo "IMAGE_TAG=$rev is not an image tag (letters, digits, _ . -; at most 128)" >&2; exit 2
  fi
else
  rev=$(git rev-parse --short=12 HEAD)
  git diff --quiet -- jobs || rev="$rev-dirty"
fi
# The host's CA bundle, wherever its distribution keeps it (or SSL_CERT_FILE),
# looked up before the long build; the image always has it at
# /etc/ssl/certs/ca-certificates.crt (jobs/Dockerfile).
ca_bundle=$(bash jobs/ca-bundle.sh)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null) || {
    echo "not a git checkout: set SOURCE_DATE_EPOCH (seconds) for the images' timestamps" >&2; exit 2; }
fi
if ! [[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]]; then
  echo "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH is not a whole number of seconds" >&2; exit 2
fi
export SOURCE_DATE_EPOCH
# The binaries, static and reproducible (jobs/build-static.sh says how).
built=$(bash jobs/build-static.sh)
bins="procurement processing egress"
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
for bin in $bins; do cp "$built/$bin" "$ctx/$bin"; done
cp "$ca_bundle" "$ctx/ca-certificates.crt"
printf 'job:x:65532:65532:job:/nonexistent:/sbin/nologin\n' > "$ctx/passwd"
printf 'job:x:65532:\n' > "$ctx/group"
# COPY keeps the context's modes and (docker) mtimes: fix both, whatever the
# umask or the host bundle's.
chmod 0644 "$ctx/ca-certificates.crt" "$ctx/passwd" "$ctx/group"
for bin in $bins; do chmod 0755 "$ctx/$bin"; done
touch -h -d "@$SOURCE_DATE_EPOCH" "$ctx"/*
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
  tag="$image_repository$bin:$rev"
  if [ "$builder" = docker ]; then
    docker buildx build -q -f jobs/Dockerfile --build-arg BIN="$bin" -t "$tag" \
      --build-arg SOURCE_DATE_EPOCH="$SOURCE_DATE_EPOCH" \
      --provenance=false --output type=docker,rewrite-timestamp=true "$ctx" >/dev/null
    size=$(docker image inspect -f '{{.Size}}' "$tag")
  else
    # --identity-label=false: the label names buildah's version, which would
    # make the digest depend on the builder's package, not on the commit.
    buildah --storage-driver vfs bud --quiet --isolation chroot -f jobs/Dockerfile \
      --timestamp "$SOURCE_DATE_EPOCH" --identity-label=false \
      --build-arg BIN="$bin" -t "$tag" "$ctx" >/dev/null
    size=$(buildah --storage-driver vfs images --format '{{.Size}}' "$tag" | sed -n 1p)
  fi
  echo "built $tag with $builder (size $size)"
  if [ "${PUSH:-0}" = 1 ]; then
    remote="$REGISTRY/$tag"
    if [ "$builder" = docker ]; then docker tag "$tag" "$remote" && docker push "$remote"
    else buildah --storage-driver vfs push --tls-verify="${REGISTRY_TLS_VERIFY:-true}" \
      --digestfile "$ctx/$bin.pushed-digest" "$tag" "docker://$remote"; fi
    echo "pushed $remote"
  fi
done

# The summary: what was built (name, size, digest), and after a push what to
# set in Terraform. Read back from the builder rather than remembered from
# the loop above, so it shows what the store holds under each name.
# First lines are taken with `sed -n 1p`, which reads to the end, never
# `head -n1`: head closes the pipe early, and when buildah lists more than
# one line it dies of SIGPIPE, which pipefail turns into a failed build
# (exit 141, seen in make check-reproducible).
local_digest() {
  # docker: the image id (a local image has no manifest digest until it is
  # pushed); buildah: the digest of the manifest in its store.
  if [ "$builder" = docker ]; then docker image inspect -f '{{.Id}}' "$1"
  else buildah --storage-driver vfs images --digests --format '{{.Digest}}' "$1" | sed -n 1p; fi
}
image_size() {
  if [ "$builder" = docker ]; then numfmt --to=si --suffix=B "$(docker image inspect -f '{{.Size}}' "$1")"
  else buildah --storage-driver vfs images --format '{{.Size}}' "$1" | sed -n 1p; fi
}
# The digest the registry holds: the pushed manifest differs from the local
# one (layers are compressed on the way), so it is the push's own report.
pushed_digest() {
  local bin=$1 remote=$2
  if [ "$builder" = docker ]; then
    docker image inspect -f '{{range .RepoDigests}}{{println .}}{{end}}' "$remote" \
      | sed -n "s|^${remote%:*}@||p" | sed -n 1p
  else cat "$ctx/$bin.pushed-digest"; fi
}
echo
echo "images built with $builder:"
printf '  %-52s %-10s %s\n' IMAGE SIZE DIGEST
for bin in $bins; do
  tag="$image_repository$bin:$rev"
  size=$(image_size "$tag")
  digest=$(local_digest "$tag")
  if [ -z "$digest" ]; then echo "$builder has no digest for $tag" >&2; exit 1; fi
  printf '  %-52s %-10s %s\n' "$tag" "$size" "$digest"
done
if [ "${PUSH:-0}" = 1 ]; then
  echo
  echo "# Pushed to $REGISTRY. In Terraform, pinned by digest (modules/batch-pipeline, var.stages):"
  echo "stages = {"
  for bin in $bins; do
    remote="$REGISTRY/$image_repository$bin:$rev"
    digest=$(pushed_digest "$bin" "$remote")
    if [ -z "$digest" ]; then echo "no digest recorded for the push of $remote" >&2; exit 1; fi
    printf '  %-11s = { image = "%s@%s" }\n' "$bin" "$remote" "$digest"
  done
  echo "}"
  echo "# examples/complete makes these references from its repositories: image_tag = \"$rev\""
fi
