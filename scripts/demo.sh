#!/usr/bin/env bash
# make demo: one whole pipeline run on this machine, with the binaries and
# the state machine definition that AWS would get.
#
#  1. installs the pinned tools (scripts/setup-tools.sh) and builds the
#     provider, the local runner, the Lambdas and the jobs;
#  2. starts moto on a free loopback port;
#  3. `terraform apply`s examples/local (our provider pointed at moto);
#  4. uploads a GHCN-like sample (scripts/demo_data.py) under incoming/,
#     with a few broken rows so the rejects show (before the apply; the
#     queue-fed demo uploads after it, so the uploads notify the queue;
#     the SFTP demo writes into the directory its sshd serves);
#  5. runs the definition Terraform produced with `batch-pipeline run`
#     (prep and watcher through a Lambda Runtime API, the three stages as
#     local N_TO_N array jobs, results to moto S3) and checks its counts;
#  6. copies the results out of moto into .demo/, then `terraform destroy`s
#     and reports what destroy kept;
#  7. checks every request the product sent to moto (apply, the run,
#     destroy) against AWS's service models (tests/contract/aws_contract.py)
#     and fails on any AWS would refuse.
# moto (and the SFTP demo's sshd) stop when the script ends, also on Ctrl-C
# or failure.
#
# DEMO picks the pipeline (each checks its own counts):
#   ghcn    (default) GHCN-Daily CSV validated with the shipped rule set;
#   xml     the seed's XML catalogs to JSON lines (xml_to_json, /catalog/book);
#   images  photos resized to 224x224 for deep learning (image_resize), with
#           a truncated, an empty, a mislabelled file and a decompression bomb;
#   sftp    seed 002: the XML catalogs fetched from a local OpenSSH server
#           (scripts/sshd.sh: key auth only, the host key pinned, the user
#           key in moto's Secrets Manager), converted to JSON lines;
#   queue   seed 003: the images demo fed by a queue: the photos' S3 event
#           notifications go to moto SQS (with a dead-letter queue,
#           scripts/demo_queue.py); the run (one schedule tick) drains it,
#           and the queue and the dead-letter queue must be empty after.
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
  images|queue) suffix=""; transform='{"kind":"image_resize","sizes":["224x224"],"mode":"fill"}' ;;
  sftp)   suffix=.xml; transform='{"kind":"xml_to_json","record_path":"/catalog/book"}' ;;
  *) echo "DEMO=$kind: one of ghcn, xml, images, sftp, queue" >&2; exit 2 ;;
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
sshd_was=""
source scripts/sshd.sh
cleanup() {
  status=$?
  if [ -n "$moto_pid" ]; then kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; fi
  stop_sshd
  # sshd's log is in $work: keep it with the demo's.
  [ -f "$work/sshd/sshd.log" ] && cp "$work/sshd/sshd.log" "$demo/sshd.log"
  rm -rf "$work"
  [ $status -eq 0 ] || echo "make demo failed (exit $status); moto${sshd_was:+ and sshd} stopped. Logs: $demo" >&2
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
# The source's variables: the S3 listing by default, else what the demo's
# source step below puts in $work/source.json.
echo '{}' >"$work/source.json"
data_kind=$kind
upload_sample() {
  step "uploading the $data_kind sample data ($files files) to s3://$source_bucket/incoming/"
  $py scripts/demo_data.py --kind "$data_kind" --endpoint "$endpoint" --bucket "$source_bucket" --files "$files" --rows "$rows" \
    | tee "$demo/sample.json"
}
case "$kind" in
  sftp)
    data_kind=xml
    step "starting an SFTP server (OpenSSH, key auth only) and writing the $data_kind sample into it"
    start_sshd "$work/sshd"
    sshd_was=1
    echo "  sshd (pid $sshd_pid) on 127.0.0.1:$sftp_port, user $sftp_user, serving $sftp_dir"
    echo "  host key pinned: $sftp_known_hosts"
    $py scripts/demo_data.py --kind "$data_kind" --dir "$sftp_dir" --files "$files" --rows "$rows" | tee "$demo/sample.json"
    # The user's private key goes to moto's Secrets Manager, where prep and
    # procurement read it (into memory only) as they do in AWS.
    $py - "$name-sftp-key" "$sftp_key" "$sftp_known_hosts" "$sftp_port" "$sftp_user" "$sftp_dir" >"$work/source.json" <<'PY'
import json, os, sys
import boto3
secret, key, known_hosts, port, user, directory = sys.argv[1:]
arn = boto3.client("secretsmanager", region_name=os.environ["AWS_REGION"]).create_secret(Name=secret, SecretString=open(key).read())["ARN"]
print(json.dumps({"source_bucket": None, "sftp_host": "127.0.0.1", "sftp_port": int(port), "sftp_user": user,
                  "sftp_private_key_secret_arn": arn, "sftp_host_key": known_hosts,
                  "sftp_directory": directory, "sftp_glob": "*.xml"}))
PY
    echo "  private key in Secrets Manager: $($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["sftp_private_key_secret_arn"])' "$work/source.json")"
    ;;
  queue)
    data_kind=images
    step "an SQS queue with a dead-letter queue, fed by s3://$source_bucket/incoming/'s event notifications"
    $py scripts/demo_queue.py --endpoint "$endpoint" --bucket "$source_bucket" --queue "$name-events" --prefix incoming/ \
      | tee "$demo/queue.json"
    # The visibility timeout outlasts the run (docs/lambdas.md): 10 minutes.
    $py -c 'import json,sys; q=json.load(open(sys.argv[1])); print(json.dumps({"sqs_queue_url": q["queue_url"], "sqs_visibility_timeout_seconds": 600}))' \
      "$demo/queue.json" >"$work/source.json"
    ;;
  *) upload_sample ;;
esac
$py - "$endpoint" "$name" "$source_bucket" "$suffix" "$per_node" "$egress_bucket" "$transform" "$work/source.json" \
  >"$demo/tf/demo.auto.tfvars.json" <<'PY'
import json, sys
endpoint, name, bucket, suffix, per_node, egress, transform, source = sys.argv[1:]
tfvars = {"endpoint": endpoint, "name": name, "source_bucket": bucket, "source_prefix": "incoming/",
          "source_suffix": suffix, "items_per_node": int(per_node), "egress_bucket": egress,
          "poll_seconds": 5, "force_destroy": False, "transform": transform}
tfvars.update(json.load(open(source)))
print(json.dumps(tfvars, indent=1))
PY
tf() { tools/terraform -chdir="$demo/tf" "$@"; }

step "terraform apply (examples/local, provider at moto)"
recorder start-recording
tf apply -auto-approve -no-color >"$demo/apply.log" 2>&1 || { cat "$demo/apply.log"; exit 1; }
grep -E "Creation complete|Apply complete" "$demo/apply.log" | sed 's/^/  /'
tf output -json >"$demo/outputs.json"
# The SFTP and queue-fed pipelines run on a schedule in AWS
# (modules/batch-pipeline events.tf): their runs get what it sends.
trigger="make demo"; case "$kind" in sftp|queue) trigger=schedule ;; esac
$py - "$demo" "$trigger" <<'PY'
import json, sys
d, trigger = sys.argv[1], sys.argv[2]
out = json.load(open(f"{d}/outputs.json"))
# run_config is the prep event's config; the definition is the ASL JSON.
json.dump({"config": json.loads(out["run_config"]["value"]), "overrides": {"trigger": trigger}},
          open(f"{d}/input.json", "w"), indent=2)
open(f"{d}/definition.json", "w").write(out["state_machine_definition"]["value"])
print("  job queue:", out["job_queue_arn"]["value"])
for stage, arn in out["job_definition_arns"]["value"].items():
    print(f"  {stage}: {arn}")
PY

if [ "$kind" = queue ]; then
  # Not recorded: the demo's uploads stand in for a user's, as elsewhere.
  recorder stop-recording
  upload_sample
  $py - "$demo/queue.json" <<'PY'
import json, os, sys
import boto3
q = json.load(open(sys.argv[1]))
a = boto3.client("sqs", region_name=os.environ["AWS_REGION"]).get_queue_attributes(QueueUrl=q["queue_url"], AttributeNames=["ApproximateNumberOfMessages"])
print(f"  moto's S3 notified the queue: {a['Attributes']['ApproximateNumberOfMessages']} messages waiting "
      "(one per photo, and the s3:TestEvent of the notification's setup)")
PY
  recorder start-recording
fi

tick=""; [ "$kind" = queue ] && tick=", one schedule tick draining the queue"
step "running the pipeline with the local runner (batch-pipeline run$tick)"
set +e
"$bin/batch-pipeline" run --definition "$demo/definition.json" --input "$demo/input.json" \
  --efs-dir "$demo/efs" --summary-json "$demo/summary.json"
run_status=$?
set -e
[ -s "$demo/summary.json" ] || { echo "the runner wrote no summary (exit $run_status)" >&2; exit 1; }

recorder stop-recording
step "checking the counts and copying the results out of moto"
$py - "$demo" "$egress_bucket" "$kind" <<'PY'
import glob, json, os, sys
import boto3
d, bucket, kind = sys.argv[1], sys.argv[2], sys.argv[3]
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
    ("records in = records in the sample", summary["records_in"], sample["rows"]),
    ("rejected = records broken on purpose", summary["records_rejected"], sample["broken_rows"]),
    ("clean + rejected = records in", summary["records_clean"] + summary["records_rejected"], summary["records_in"]),
]
prep = summary.get("prep") or {}
run_dir = summary.get("run_dir") or ""
if kind == "sftp":
    # What prep listed on the server, what procurement put on EFS, and the
    # JSON lines egress published (each clean record one line).
    fetched = [p for p in glob.glob(f"{run_dir}/nodes/*/data/**", recursive=True) if os.path.isfile(p)]
    published = [k for k in keys if k.endswith(".jsonl") and not k.endswith(".rejects.jsonl")]
    lines = 0
    for key in published:
        with open(os.path.join(d, "results", bucket, key), "rb") as f:
            lines += sum(1 for _ in f)
    checks += [
        ("files listed on the SFTP server = files written there", prep.get("items"), sample["files"]),
        ("files fetched to EFS = files listed", len(fetched), prep.get("items")),
        ("JSON files in the egress bucket = files fetched", len(published), len(fetched)),
        ("JSON lines in the egress bucket = clean records", lines, summary["records_clean"]),
    ]
if kind in ("images", "queue"):
    # Each broken file is rejected, with its reason, and nothing else is.
    rejected = {}
    for key in keys:
        if key.endswith(".rejects.jsonl"):
            with open(os.path.join(d, "results", bucket, key)) as f:
                reasons = [json.loads(line) for line in f if line.strip()]
            if reasons:
                rejected[os.path.basename(key)[: -len(".rejects.jsonl")]] = reasons[0]
    checks.append(("files rejected = files broken on purpose", sorted(rejected), sorted(sample["broken_files"])))
    for name in sorted(rejected):
        print(f"  rejected {name}: {rejected[name].get('rule')}: {rejected[name].get('reason', '')[:110]}")
if kind == "queue":
    q = json.load(open(f"{d}/queue.json"))
    sqs = boto3.client("sqs", region_name=os.environ["AWS_REGION"])
    def depth(url):
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])
    counts = prep.get("queue") or {}
    print(f"  prep's receive: {json.dumps(counts)}")
    checks += [
        ("objects the queue announced = photos uploaded", prep.get("items"), sample["files"]),
        ("messages received = one per photo + the notification setup's s3:TestEvent", counts.get("received"), sample["files"] + 1),
        ("messages left for a later run (unprocessable)", counts.get("left"), 0),
        ("messages in the queue after the run (egress deleted them)", depth(q["queue_url"]), 0),
        ("messages in the dead-letter queue", depth(q["dlq_url"]), 0),
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

if [ "$kind" = queue ]; then
  # The next tick finds the queue empty: prep answers NO_WORK and the
  # execution ends without submitting a job (scale to zero costs nothing).
  recorder start-recording
  step "the next schedule tick: the queue is empty"
  "$bin/batch-pipeline" run --definition "$demo/definition.json" --input "$demo/input.json" \
    --efs-dir "$demo/efs" --summary-json "$demo/summary-next-tick.json" --no-progress 2>"$demo/next-tick.log" \
    || { cat "$demo/next-tick.log" >&2; exit 1; }
  recorder stop-recording
  $py - "$demo/summary-next-tick.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
checks = [("run status", s["status"], "SUCCEEDED"), ("final state", s["final_state"], "NoWork"),
          ("jobs submitted", len(s.get("stages") or {}), 0)]
for label, got, want in checks:
    print(f"  {'ok ' if got == want else 'BAD'} {label}: {got}" + ("" if got == want else f" (expected {want})"))
sys.exit(1 if any(got != want for _, got, want in checks) else 0)
PY
fi

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
