#!/usr/bin/env bash
# Builds the provider for this host and writes the files a provider
# registry or mirror serves, in the Registry's layout, to DIST_DIR (dist/):
#
#   terraform-provider-batch_<version>_<os>_<arch>.zip   the binary, named
#                                                        terraform-provider-batch_v<version>
#   terraform-provider-batch_<version>_manifest.json     protocol version 6.0
#   terraform-provider-batch_<version>_SHA256SUMS        the zips and the manifest
#   terraform-provider-batch_<version>_SHA256SUMS.sig    detached binary GPG signature
#                                                        (only with GPG_KEY_ID)
#
# Usage: VERSION=x.y.z [GPG_KEY_ID=<key>] [DIST_DIR=dist] scripts/release.sh
#
# Environment:
#   VERSION            the release's version, semver without a leading "v" (required)
#   GPG_KEY_ID         the key that signs SHA256SUMS; without it there is no .sig
#   DIST_DIR           where the files go (default <repo>/dist)
#   RELEASE_PROFILE    cargo profile of the build (default release; tests use debug)
#   PROVIDER_BINARY    package this already built binary instead of building one
#                      (the tests: cargo holds the build lock while they run)
#   SOURCE_DATE_EPOCH  the zip entry's timestamp (default: the commit's time)
#
# The same commit gives byte-identical zips, manifest and SHA256SUMS: the
# zip has one entry with a fixed timestamp and fixed permissions, and the
# build remaps the repository, cargo home and target directory so no build
# path ends up in the binary. (A GPG signature carries its own time, so the
# .sig differs between runs; it verifies all the same.)
set -euo pipefail

die() {
  echo "release: $*" >&2
  exit 2
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=terraform-provider-batch

version=${VERSION:-}
[ -n "$version" ] || die "VERSION is required, e.g. make release VERSION=1.2.3"
case "$version" in
  v*) die "VERSION '$version': write it without the leading 'v' (e.g. ${version#v}); the files add the 'v' where the Registry wants one" ;;
esac
# semver.org's regular expression, in POSIX ERE.
num='(0|[1-9][0-9]*)'
ident='(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)'
semver="^${num}\.${num}\.${num}(-${ident}(\.${ident})*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$"
[[ "$version" =~ $semver ]] || die "VERSION '$version' is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], e.g. 1.2.3 or 1.2.3-rc.1)"

dist=${DIST_DIR:-$root/dist}
profile=${RELEASE_PROFILE:-release}

# The Registry's os_arch names for this host, from rustc's host triple.
host=$(rustc -vV | sed -n 's/^host: //p')
[ -n "$host" ] || die "cannot read the host triple from 'rustc -vV'"
case "$host" in
  x86_64-*) arch=amd64 ;;
  aarch64-*) arch=arm64 ;;
  i686-* | i586-*) arch=386 ;;
  arm*) arch=arm ;;
  *) die "host $host: no Terraform architecture name known for it" ;;
esac
case "$host" in
  *-linux-*) os=linux ;;
  *-apple-darwin) os=darwin ;;
  *-windows-*) os=windows ;;
  *-freebsd) os=freebsd ;;
  *) die "host $host: no Terraform OS name known for it" ;;
esac

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git -C "$root" log -1 --format=%ct 2>/dev/null) ||
    die "SOURCE_DATE_EPOCH is unset and $root has no git commit to take it from"
fi
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH '$SOURCE_DATE_EPOCH' is not a number of seconds"
# Exported to the build too: C code built by build scripts (ring, aws-lc)
# takes its dates from it. Those build scripts rerun when it changes, so
# the first release build after a new commit recompiles them.
export SOURCE_DATE_EPOCH

if [ -n "${PROVIDER_BINARY:-}" ]; then
  [ -x "$PROVIDER_BINARY" ] || die "PROVIDER_BINARY $PROVIDER_BINARY is not an executable file"
  binary=$PROVIDER_BINARY
  echo "release: packaging $binary (not built here) as $version" >&2
else
  cargo_home=${CARGO_HOME:-$HOME/.cargo}
  target_dir=${CARGO_TARGET_DIR:-$root/target}
  # The last matching prefix wins, so the target directory (often inside
  # the repository) comes after the repository.
  # Passed 0x1f-separated (CARGO_ENCODED_RUSTFLAGS) so paths with spaces
  # stay whole; RUSTFLAGS would be ignored next to it, so it is refused.
  [ -z "${RUSTFLAGS:-}" ] || die "unset RUSTFLAGS: the release build sets its own flags"
  sep=$'\x1f'
  flags="--remap-path-prefix=$root=/build/$name$sep--remap-path-prefix=$cargo_home=/cargo$sep--remap-path-prefix=$target_dir=/target"
  echo "release: building $name $version ($profile, $host)" >&2
  # BATCH_PROVIDER_VERSION is what the binary reports (--version, startup log).
  (cd "$root" && BATCH_PROVIDER_VERSION="$version" CARGO_ENCODED_RUSTFLAGS="$flags" \
    cargo build --locked --profile "$profile" -p "$name" --bin "$name")
  case "$profile" in dev) profile_dir=debug ;; *) profile_dir=$profile ;; esac
  binary=$target_dir/$profile_dir/$name
  reported=$("$binary" --version)
  [ "$reported" = "$name $version" ] || die "the built binary reports '$reported', not '$name $version'"
fi

mkdir -p "$dist"
prefix="${name}_${version}"
zip_path="$dist/${prefix}_${os}_${arch}.zip"
manifest="$dist/${prefix}_manifest.json"
sums="$dist/${prefix}_SHA256SUMS"

# One entry, the binary under the Registry's name, with the commit's time
# and rwxr-xr-x: the same deterministic zip writer as the Lambda zips.
[ -x "$binary" ] || die "$binary is not executable: a provider zip's binary must be"
python3 "$root/tools/deterministic_zip.py" "$zip_path" "${name}_v${version}=$binary"

printf '{"version":1,"metadata":{"protocol_versions":["6.0"]}}\n' >"$manifest"

# Every zip of this version in DIST_DIR (builds on other hosts can add
# theirs) and the manifest, sorted, in sha256sum's format.
(cd "$dist" && LC_ALL=C sha256sum -- "${prefix}"_*.zip "${prefix}_manifest.json" | LC_ALL=C sort -k2) >"$sums.tmp"
mv "$sums.tmp" "$sums"

rm -f "$sums.sig"
if [ -n "${GPG_KEY_ID:-}" ]; then
  gpg --batch --yes --local-user "$GPG_KEY_ID" --detach-sign --output "$sums.sig" "$sums" ||
    die "gpg could not sign $sums with key $GPG_KEY_ID"
else
  echo "release: GPG_KEY_ID is not set, so ${prefix}_SHA256SUMS.sig is skipped: a registry needs it (with your public key) to accept the release; mirrors and lock files do not" >&2
fi

echo "release: wrote to $dist:" >&2
(cd "$dist" && ls -1 "${prefix}"_* >&2)
