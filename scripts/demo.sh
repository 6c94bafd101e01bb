#!/usr/bin/env bash
# make demo: a pipeline's whole AWS side on this machine. Starts moto on a
# free loopback port, builds the provider, `terraform apply`s examples/local
# against it, shows what was made (ids, the prep Lambda's run configuration,
# the Step Functions definition of one run), then `terraform destroy`s it and
# reports what was kept. moto stops when the script ends, also on Ctrl-C or
# failure.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup-tools.sh

echo "== building the provider"
cargo build -q -p terraform-provider-batch
provider_dir="${CARGO_TARGET_DIR:-$root/target}/debug"

work=$(mktemp -d)
moto_pid=""
cleanup() {
  [ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

port=$(.tools/venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint="http://127.0.0.1:$port"
echo "== starting moto on $endpoint"
.tools/venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 100); do
  .tools/venv/bin/python -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" 2>/dev/null && break
  sleep 0.1
done

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "batch-pipeline/batch" = "$provider_dir"
  }
  direct {}
}
CFG
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
mkdir -p "$work/tf"
cp examples/local/*.tf "$work/tf/"
echo "== creating the network and IAM roles moto needs (examples/local/moto_setup.py)"
.tools/venv/bin/python examples/local/moto_setup.py --endpoint "$endpoint" >"$work/tf/moto.auto.tfvars.json"

tf() { tools/terraform -chdir="$work/tf" "$@"; }
echo "== terraform apply"
tf apply -auto-approve -no-color -var "endpoint=$endpoint" -var egress_bucket=demo-results | grep -E "Creat|Apply complete|Error" || true
echo
echo "== what Terraform made"
tf output -no-color
echo
echo "== a second plan: nothing to do"
tf plan -no-color -detailed-exitcode -var "endpoint=$endpoint" -var egress_bucket=demo-results | tail -3
echo
echo "== terraform destroy"
tf destroy -auto-approve -no-color -var "endpoint=$endpoint" -var egress_bucket=demo-results | grep -E "Destroy|kept|Warning|Error" || true
echo
echo "Done. examples/local sets force_destroy = true, so nothing was kept; without it,"
echo "destroy keeps the file system and the egress bucket and names them in a warning."
