#!/bin/sh
# cleanup-retained.sh: list, then (after a typed confirmation) delete what
# `terraform destroy` of a batch pipeline deliberately kept: EFS file systems
# (with their mount targets and access points), S3 buckets (every object
# version) and CloudWatch log groups, found by the `batch-pipeline:name` tag
# the provider and the module put on everything.
#
# A pipeline that is still deployed (its compute environment exists) is
# skipped whole, with a message: run terraform destroy first.
#
# It also lists the module's KMS key (tagged the same way; also found through
# the kept file systems and buckets it encrypts, and alias/batch-pipeline/NAME).
# Destroy schedules that key for deletion while the kept data still needs it:
# the listing says when, and how to cancel. With --delete the key is scheduled
# for deletion (unless it already is) last, once everything of its pipeline
# above is deleted.
#
# Usage:
#   cleanup-retained.sh [--name PIPELINE] [--region REGION] [--delete]
#
#   --name     only this pipeline (default: every pipeline in the region)
#   --region   AWS region (default: the CLI's: AWS_REGION / profile)
#   --delete   after listing, ask for the pipeline name (or "all") to be typed
#              and delete what was listed. Without it, only lists.
#
# Non-interactive use: CONFIRM=<pipeline name or all> cleanup-retained.sh --delete
# Needs: POSIX sh and the AWS CLI v2 (AWS_ENDPOINT_URL works for moto).
# Exit status: 0 done (or nothing found), 1 a deletion failed, 2 usage or
# confirmation mismatch.
set -eu

TAG_KEY="batch-pipeline:name"
name=""
region_args=""
delete=0
KEY_WINDOW_DAYS=30

# The comment block above, without its '#'.
usage() { sed -n '2,/^set -eu$/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --name) [ $# -ge 2 ] || { usage >&2; exit 2; }; name=$2; shift 2 ;;
    --region) [ $# -ge 2 ] || { usage >&2; exit 2; }; region_args="--region $2"; shift 2 ;;
    --delete) delete=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cleanup-retained: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

command -v aws >/dev/null 2>&1 || { echo "cleanup-retained: the AWS CLI (aws) is required" >&2; exit 2; }

# shellcheck disable=SC2086 # region_args is deliberately split into two words
awsr() { aws $region_args --output text "$@"; }

if [ -n "$name" ]; then
  filter="Key=$TAG_KEY,Values=$name"
else
  filter="Key=$TAG_KEY"
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# One ARN per line, with its pipeline name: "<arn>\t<pipeline>". (No
# --resource-type-filters: the case below picks the kinds; everything else
# the tag finds was deleted by destroy or is not ours to delete.)
awsr resourcegroupstaggingapi get-resources \
  --tag-filters "$filter" \
  --query "ResourceTagMappingList[].[ResourceARN, Tags[?Key=='$TAG_KEY'].Value | [0]]" \
  >"$tmp/found"

: >"$tmp/fs"; : >"$tmp/buckets"; : >"$tmp/logs"; : >"$tmp/keyids"; : >"$tmp/keys"; : >"$tmp/live"
# A KMS key id (or ARN) that may be the pipeline's key; checked below.
key_candidate() {
  case "$1" in
    ""|None) ;;
    *) printf '%s\n' "${1##*/}" >>"$tmp/keyids" ;;
  esac
}
while IFS="$(printf '\t')" read -r arn pipeline; do
  [ -n "$arn" ] || continue
  case "$arn" in
    arn:*:elasticfilesystem:*:file-system/*)
      id=${arn##*/}
      # The tagging API can lag behind deletions: keep only what still exists.
      if kms=$(awsr efs describe-file-systems --file-system-id "$id" --query 'FileSystems[0].KmsKeyId' 2>/dev/null); then
        printf '%s\t%s\n' "$id" "$pipeline" >>"$tmp/fs"
        key_candidate "$kms"
      fi ;;
    arn:*:s3:::*)
      bucket=${arn##*:::}
      if awsr s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
        printf '%s\t%s\n' "$bucket" "$pipeline" >>"$tmp/buckets"
        key_candidate "$(awsr s3api get-bucket-encryption --bucket "$bucket" \
          --query 'ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID' 2>/dev/null || true)"
      fi ;;
    arn:*:logs:*:log-group:*)
      group=${arn#*:log-group:}
      group=${group%:\*}
      if [ -n "$(awsr logs describe-log-groups --log-group-name-prefix "$group" --query "logGroups[?logGroupName=='$group'].logGroupName")" ]; then
        printf '%s\t%s\n' "$group" "$pipeline" >>"$tmp/logs"
      fi ;;
    arn:*:kms:*:key/*)
      key_candidate "$arn" ;;
    arn:*:batch:*:compute-environment/*)
      # A pipeline that still has its compute environment is deployed:
      # nothing of it is "retained", and all of it is in use.
      ce=${arn##*/}
      status=$(awsr batch describe-compute-environments --compute-environments "$ce" \
        --query 'computeEnvironments[0].status' 2>/dev/null || true)
      case "$status" in ""|None|DELETED) ;; *) printf '%s\n' "$pipeline" >>"$tmp/live" ;; esac ;;
  esac
done <"$tmp/found"
# Leave out everything of a deployed pipeline (its files hold "<x>\t<pipeline>").
if [ -s "$tmp/live" ]; then
  sort -u "$tmp/live" | while read -r live; do
    echo "skipped pipeline $live: it is still deployed (its compute environment exists); run terraform destroy first" >&2
  done
  for list in fs buckets logs; do
    awk -F '\t' 'NR == FNR { live[$1] = 1; next } !($2 in live)' "$tmp/live" "$tmp/$list" >"$tmp/$list.kept"
    mv "$tmp/$list.kept" "$tmp/$list"
  done
fi
if [ -n "$name" ]; then
  # Before destroy (or a destroy that stopped early) the alias still names it.
  key_candidate "$(awsr kms describe-key --key-id "alias/batch-pipeline/$name" --query 'KeyMetadata.KeyId' 2>/dev/null || true)"
fi
# Only keys that carry the pipeline tag are the module's (a key passed in as
# kms_key_arn belongs to someone else). "<key id>\t<pipeline>\t<state>\t<deletion date>"
for key in $(sort -u "$tmp/keyids"); do
  owner=$(awsr kms list-resource-tags --key-id "$key" --query "Tags[?TagKey=='$TAG_KEY'].TagValue | [0]" 2>/dev/null) || continue
  case "$owner" in ""|None) continue ;; esac
  [ -z "$name" ] || [ "$owner" = "$name" ] || continue
  # The key of a deployed pipeline is in use.
  if grep -qxF "$owner" "$tmp/live"; then continue; fi
  meta=$(awsr kms describe-key --key-id "$key" --query 'KeyMetadata.[KeyState, DeletionDate]' 2>/dev/null) || continue
  state=$(printf '%s\n' "$meta" | cut -f1)
  when=$(printf '%s\n' "$meta" | cut -f2)
  printf '%s\t%s\t%s\t%s\n' "$key" "$owner" "$state" "$when" >>"$tmp/keys"
done

data_count=$(cat "$tmp/fs" "$tmp/buckets" "$tmp/logs" | wc -l | tr -d ' ')
# Keys already pending deletion need nothing more from --delete.
keys_to_schedule=$(awk -F '\t' '$3 != "PendingDeletion"' "$tmp/keys" | wc -l | tr -d ' ')
count=$((data_count + keys_to_schedule))
scope=${name:-every pipeline}
echo "Retained objects tagged $TAG_KEY (${scope}):"
print_kind() {
  printf '  %s:\n' "$1"
  if [ -s "$2" ]; then
    while IFS="$(printf '\t')" read -r what pipeline; do printf '    %-60s (pipeline %s)\n' "$what" "$pipeline"; done <"$2"
  else
    echo "    (none)"
  fi
}
print_kind "EFS file systems" "$tmp/fs"
print_kind "S3 buckets (all object versions are deleted with them)" "$tmp/buckets"
print_kind "CloudWatch log groups" "$tmp/logs"
printf '  %s:\n' "KMS keys of the module (scheduled for deletion last, after the data above)"
if [ -s "$tmp/keys" ]; then
  while IFS="$(printf '\t')" read -r key pipeline state when; do
    if [ "$state" = PendingDeletion ]; then
      printf '    %-60s (pipeline %s; pending deletion, deleted on %s)\n' "$key" "$pipeline" "$when"
    else
      printf '    %-60s (pipeline %s; %s)\n' "$key" "$pipeline" "$state"
    fi
  done <"$tmp/keys"
else
  echo "    (none)"
fi
# Kept data whose key is about to go: say so, and how to keep it readable.
if [ "$data_count" -gt 0 ] && awk -F '\t' '$3 == "PendingDeletion" { found = 1 } END { exit !found }' "$tmp/keys"; then
  echo "WARNING: a key above is scheduled for deletion while data above is encrypted with it; once"
  echo "the key is deleted, the file system, the buckets' objects and the log groups cannot be read."
  echo "To keep the data, cancel the deletion before that date (the key is then disabled; enable it):"
  awk -F '\t' '$3 == "PendingDeletion" { print $1 }' "$tmp/keys" | while read -r key; do
    echo "  aws ${region_args:+$region_args }kms cancel-key-deletion --key-id $key && aws ${region_args:+$region_args }kms enable-key --key-id $key"
  done
fi

if [ "$count" -eq 0 ]; then
  echo "Nothing to delete."
  exit 0
fi
if [ "$delete" -eq 0 ]; then
  echo "Listed only. Re-run with --delete to delete these $count objects (their data is lost)."
  exit 0
fi

expected=${name:-all}
if [ -n "${CONFIRM+x}" ]; then
  answer=$CONFIRM
else
  printf 'This permanently deletes the %s objects above and their data.\nType %s to confirm: ' "$count" "'$expected'"
  if (: </dev/tty) 2>/dev/null; then read -r answer </dev/tty; else read -r answer || answer=""; fi
fi
if [ "$answer" != "$expected" ]; then
  echo "cleanup-retained: confirmation did not match '$expected'; nothing deleted." >&2
  exit 2
fi

failed=0
: >"$tmp/failed-pipelines"
# A failed deletion keeps that pipeline's key: what is left needs it.
failed_for() { failed=1; printf '%s\n' "$1" >>"$tmp/failed-pipelines"; }

delete_file_system() {
  fs=$1
  for ap in $(awsr efs describe-access-points --file-system-id "$fs" --query 'AccessPoints[].AccessPointId'); do
    awsr efs delete-access-point --access-point-id "$ap" >/dev/null || return 1
  done
  mts=$(awsr efs describe-mount-targets --file-system-id "$fs" --query 'MountTargets[].MountTargetId') || return 1
  for mt in $mts; do
    awsr efs delete-mount-target --mount-target-id "$mt" >/dev/null || return 1
  done
  # A file system can only be deleted once its mount targets are gone.
  tries=0
  while [ -n "$(awsr efs describe-mount-targets --file-system-id "$fs" --query 'MountTargets[].MountTargetId')" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 60 ] || { echo "  mount targets of $fs still exist after 5 minutes" >&2; return 1; }
    sleep 5
  done
  awsr efs delete-file-system --file-system-id "$fs" >/dev/null
}

empty_and_delete_bucket() {
  bucket=$1
  # Every version and delete marker, 1000 at a time (the DeleteObjects limit).
  while :; do
    awsr s3api list-object-versions --bucket "$bucket" --max-items 1000 --output json \
      --query '{Objects: [Versions, DeleteMarkers][][].{Key: Key, VersionId: VersionId}, Quiet: `true`}' >"$tmp/batch.json" || return 1
    if grep -q '"Key"' "$tmp/batch.json"; then
      awsr s3api delete-objects --bucket "$bucket" --delete "file://$tmp/batch.json" >/dev/null || return 1
    else
      break
    fi
  done
  awsr s3api delete-bucket --bucket "$bucket" >/dev/null
}

while IFS="$(printf '\t')" read -r fs pipeline; do
  [ -n "$fs" ] || continue
  if delete_file_system "$fs"; then echo "deleted file system $fs"; else echo "FAILED to delete file system $fs" >&2; failed_for "$pipeline"; fi
done <"$tmp/fs"

while IFS="$(printf '\t')" read -r bucket pipeline; do
  [ -n "$bucket" ] || continue
  if empty_and_delete_bucket "$bucket"; then echo "deleted bucket $bucket"; else echo "FAILED to delete bucket $bucket" >&2; failed_for "$pipeline"; fi
done <"$tmp/buckets"

while IFS="$(printf '\t')" read -r group pipeline; do
  [ -n "$group" ] || continue
  if awsr logs delete-log-group --log-group-name "$group" >/dev/null; then echo "deleted log group $group"; else echo "FAILED to delete log group $group" >&2; failed_for "$pipeline"; fi
done <"$tmp/logs"

# Last: the keys, once nothing of their pipeline that they encrypt is left.
while IFS="$(printf '\t')" read -r key pipeline state when; do
  [ -n "$key" ] || continue
  if grep -qxF "$pipeline" "$tmp/failed-pipelines"; then
    echo "kept KMS key $key: not everything of pipeline $pipeline was deleted, and what is left needs it" >&2
  elif [ "$state" = PendingDeletion ]; then
    echo "KMS key $key is already scheduled for deletion on $when"
  elif when=$(awsr kms schedule-key-deletion --key-id "$key" --pending-window-in-days "$KEY_WINDOW_DAYS" --query DeletionDate); then
    echo "scheduled KMS key $key for deletion on $when"
  else
    echo "FAILED to schedule the deletion of KMS key $key" >&2; failed=1
  fi
done <"$tmp/keys"

exit "$failed"
