#!/usr/bin/env bash
# make demo: one whole pipeline run on this machine, with the binaries and
# the state machine definition that AWS would get.
#
#  1. installs the pinned tools (scripts/setup-tools.sh) and builds the
#     provider, the local runner, the Lambdas and the jobs;
#  2. starts moto on a free loopback port;
#  3. `terraform apply`s examples/local (our provider pointed at moto);
#  4. uploads a GHCN-like sample (scripts/demo_data.py) under incoming/,
#     with a few broken rows so the rejects show;
#  5. runs the definition Terraform produced with `batch-pipeline run`
#     (prep and watcher through a Lambda Runtime API, the three stages as
#     local N_TO_N array jobs, results to moto S3) and checks its counts;
#  6. copies the results out of moto into .demo/, then `terraform destroy`s
#     and reports what destroy kept;
#  7. checks every request the product sent to moto (apply, the run,
#     destroy) against AWS's service models (tests/contract/aws_contract.py)
#     and fails on any AWS would refuse.
# moto stops when the script ends, also on Ctrl-C or failure.
#
# DEMO picks the pipeline (each checks its own counts):
#   ghcn    (default) GHCN-Daily CSV validated with the shipped rule set;
#   xml     the seed's XML catalogs to JSON lines (xml_to_json, /catalog/book);
#   images  photos resized to 224x224 for deep learning (image_resize), with
#           a truncated, an empty, a mislabelled file and a decompression bomb.
# Env: DEMO_DIR (default .demo), DEMO_FILES (12), DEMO_ROWS (5000 per file),
#      DEMO_ITEMS_PER_NODE (1 file per node), PROFILE (debug | release).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup-tools.sh

profile=${PROFILE:-debug}
files=${DEMO_FILES:-12}
rows=${DEMO_ROWS:-5000}
per_node=${DEMO_ITEMS_PER_NODE:-1}
kind=${DEMO:-ghcn}
case "$kind" in
  ghcn)   suffix=.csv; transform='{"kind":"csv_validate","rules":{"builtin":"ghcn-daily"}}' ;;
  xml)    suffix=.xml; transform='{"kind":"xml_to_json","record_path":"/catalog/book"}' ;;
  images) suffix=""; transform='{"kind":"image_resize","sizes":["224x224"],"mode":"fill"}' ;;
  *) echo "DEMO=$kind: one of ghcn, xml, images" >&2; exit 2 ;;
esac
name=local-demo
source_bucket=$name-incoming
egress_bucket=$name-results
py=.tools/venv/bin/python

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "building the provider, the runner, the Lambdas and the jobs ($profile)"
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build -q "${flag[@]}" -p terraform-provider-batch -p batch-runner -p batch-lambdas -p batch-jobs \
  --bin terraform-provider-batch --bin batch-pipeline --bin prep --bin watcher \
  --bin procurement --bin processing --bin egress
bin="${CARGO_TARGET_DIR:-$root/target}/$profile"

demo=${DEMO_DIR:-$root/.demo}
rm -rf "$demo"
mkdir -p "$demo/tf"
work=$(mktemp -d)
moto_pid=""
cleanup() {
  status=$?
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
  rm -rf "$work"
  [ $status -eq 0 ] || echo "make demo failed (exit $status); moto stopped. Logs: $demo" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source scripts/moto.sh
# moto's request recorder keeps what the product sends (apply, the run,
# destroy; not the demo's own uploads and downloads), which is checked
# against AWS's service models at the end (tests/contract/aws_contract.py).
export MOTO_RECORDER_FILEPATH="$demo/requests.jsonl"
start_moto "$demo/moto.log"
step "moto is up on $endpoint"
recorder() {
  $py -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1] + "/moto-api/recorder/" + sys.argv[2], method="POST"))' \
    "$endpoint" "$1"
}

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL="$endpoint"
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
cat >"$work/cli.tfrc" <<CFG
provider_installation {
  dev_overrides {
    "batch-pipeline/batch" = "$bin"
  }
  direct {}
}
CFG
export TF_CLI_CONFIG_FILE="$work/cli.tfrc"
cp examples/local/*.tf "$demo/tf/"
$py examples/local/moto_setup.py --endpoint "$endpoint" >"$demo/tf/moto.auto.tfvars.json"
cat >"$demo/tf/demo.auto.tfvars.json" <<JSON
{"endpoint": "$endpoint", "name": "$name", "source_bucket": "$source_bucket", "source_prefix": "incoming/",
 "source_suffix": "$suffix", "items_per_node": $per_node, "egress_bucket": "$egress_bucket",
 "poll_seconds": 5, "force_destroy": false, "transform": $($py -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$transform")}
JSON
tf() { tools/terraform -chdir="$demo/tf" "$@"; }

step "uploading the $kind sample data ($files files) to s3://$source_bucket/incoming/"
$py scripts/demo_data.py --kind "$kind" --endpoint "$endpoint" --bucket "$source_bucket" --files "$files" --rows "$rows" \
  | tee "$demo/sample.json"

step "terraform apply (examples/local, provider at moto)"
recorder start-recording
tf apply -auto-approve -no-color >"$demo/apply.log" 2>&1 || { cat "$demo/apply.log"; exit 1; }
grep -E "Creation complete|Apply complete" "$demo/apply.log" | sed 's/^/  /'
tf output -json >"$demo/outputs.json"
$py - "$demo" <<'PY'
import json, sys
d = sys.argv[1]
out = json.load(open(f"{d}/outputs.json"))
# run_config is the prep event's config; the definition is the ASL JSON.
json.dump({"config": json.loads(out["run_config"]["value"]), "overrides": {"trigger": "make demo"}},
          open(f"{d}/input.json", "w"), indent=2)
open(f"{d}/definition.json", "w").write(out["state_machine_definition"]["value"])
print("  job queue:", out["job_queue_arn"]["value"])
for stage, arn in out["job_definition_arns"]["value"].items():
    print(f"  {stage}: {arn}")
PY

step "running the pipeline with the local runner (batch-pipeline run)"
set +e
"$bin/batch-pipeline" run --definition "$demo/definition.json" --input "$demo/input.json" \
  --efs-dir "$demo/efs" --summary-json "$demo/summary.json"
run_status=$?
set -e
[ -s "$demo/summary.json" ] || { echo "the runner wrote no summary (exit $run_status)" >&2; exit 1; }

recorder stop-recording
step "checking the counts and copying the results out of moto"
$py - "$demo" "$egress_bucket" <<'PY'
import json, os, sys
import boto3
d, bucket = sys.argv[1], sys.argv[2]
summary, sample = json.load(open(f"{d}/summary.json")), json.load(open(f"{d}/sample.json"))
s3 = boto3.client("s3")
keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])]
for key in keys:
    dest = os.path.join(d, "results", bucket, key)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    s3.download_file(bucket, key, dest)
checks = [
    ("run status", summary["status"], "SUCCEEDED"),
    ("records in = records uploaded", summary["records_in"], sample["rows"]),
    ("rejected = records broken on purpose", summary["records_rejected"], sample["broken_rows"]),
    ("clean + rejected = records in", summary["records_clean"] + summary["records_rejected"], summary["records_in"]),
]
bad = [c for c in checks if c[1] != c[2]]
for label, got, want in checks:
    print(f"  {'ok ' if got == want else 'BAD'} {label}: {got}" + ("" if got == want else f" (expected {want})"))
print(f"  {len(keys)} result objects in s3://{bucket}/, copied to {d}/results/{bucket}/")
rejects = sorted(k for k in keys if "reject" in k)
if rejects:
    print(f"  e.g. {d}/results/{bucket}/{rejects[0]}:")
    with open(os.path.join(d, "results", bucket, rejects[0])) as f:
        for line in f.read().splitlines()[:4]:
            print("    " + line[:150])
sys.exit(1 if bad else 0)
PY

step "terraform destroy"
recorder start-recording
tf destroy -auto-approve -no-color >"$demo/destroy.log" 2>&1 || { cat "$demo/destroy.log"; exit 1; }
recorder stop-recording
grep -E "Destruction complete|Destroy complete" "$demo/destroy.log" | sed 's/^/  /'
echo "  kept by destroy (force_destroy = false), as in AWS:"
grep -E "^\s*- (EFS|S3)|kept" "$demo/destroy.log" | sed 's/^ */    /' || echo "    (nothing)"
echo "  In AWS, delete those with: make cleanup-retained NAME=$name; here they go away with moto."

step "every request the provider, the Lambdas and the jobs sent, against AWS's service models"
if $py tests/contract/aws_contract.py "$demo/requests.jsonl" >"$demo/contract.txt"; then
  contract_status=0
else
  contract_status=$?
fi
sed -n '1p;/violations$/,$p' "$demo/contract.txt" | sed 's/^/  /'
[ "$contract_status" -eq 0 ] || { echo "requests AWS would refuse: $demo/contract.txt" >&2; [ "$run_status" -ne 0 ] || run_status=$contract_status; }

step "done"
echo "  summary:      $demo/summary.json"
echo "  EFS (local):  $demo/efs/runs/$($py -c "import json; print(json.load(open('$demo/summary.json'))['run_id'])")/"
echo "  results:      $demo/results/$egress_bucket/"
echo "  logs:         $demo/{apply,destroy,moto}.log, $demo/efs/.batch-runner/"
echo "  requests:     $demo/requests.jsonl (checked: $demo/contract.txt)"
exit $run_status
