#!/usr/bin/env bash
# Offline checks of modules/ and examples/ (what `make test` runs for HCL):
#   1. terraform fmt -check, terraform init/validate of every directory
#      with our provider and hashicorp/aws's real schema at both ends of the
#      modules' constraint (a schema-only stand-in, tools/schema-provider,
#      serving the schema tests/terraform/aws_schema.py reads from the
#      pinned npm bindings), and the HCL wiring tests:
#      tests/terraform/test_modules.py
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

# pinned_venv VENV REQUIREMENTS BINARY: VENV has REQUIREMENTS installed
# (again when that file changes, told by its hash in a stamp file).
pinned_venv() {
  local venv=$1 req=$2 bin=$3
  local stamp="$venv/.requirements.sha256" want
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -x "$venv/bin/$bin" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "run.sh: installing $req into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" >"$stamp"
  fi
}

venv="$root/.tools/checkov-venv"
pinned_venv "$venv" "$root/tools/checkov-requirements.txt" checkov

status=0

# terraform validate runs with our provider and the schema-only stand-in
# serving hashicorp/aws's real schema (tools/schema-provider).
echo "== building terraform-provider-batch and the schema-only stand-in"
cargo build --quiet -p terraform-provider-batch -p schema-provider

echo "== terraform fmt, terraform validate against hashicorp/aws 5.70.0 and 6.25.0, HCL wiring tests"
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
pinned_venv "$root/.tools/awscli-venv" "$root/tools/awscli-requirements.txt" aws
"$root/.tools/venv/bin/python" tests/terraform/test_cleanup_retained.py || status=1

if [ "$status" -eq 0 ]; then echo "run.sh: all offline Terraform checks passed"; else echo "run.sh: FAILED" >&2; fi
exit "$status"
