#!/bin/sh
# cleanup-retained.sh: list, then (after a typed confirmation) delete what
# `terraform destroy` of a batch pipeline deliberately kept: EFS file systems
# (with their mount targets and access points), S3 buckets (every object
# version) and CloudWatch log groups, found by the `batch-pipeline:name` tag
# the provider and the module put on everything.
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

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

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

: >"$tmp/fs"; : >"$tmp/buckets"; : >"$tmp/logs"
while IFS="$(printf '\t')" read -r arn pipeline; do
  [ -n "$arn" ] || continue
  case "$arn" in
    arn:*:elasticfilesystem:*:file-system/*)
      id=${arn##*/}
      # The tagging API can lag behind deletions: keep only what still exists.
      if awsr efs describe-file-systems --file-system-id "$id" >/dev/null 2>&1; then
        printf '%s\t%s\n' "$id" "$pipeline" >>"$tmp/fs"
      fi ;;
    arn:*:s3:::*)
      bucket=${arn##*:::}
      if awsr s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
        printf '%s\t%s\n' "$bucket" "$pipeline" >>"$tmp/buckets"
      fi ;;
    arn:*:logs:*:log-group:*)
      group=${arn#*:log-group:}
      group=${group%:\*}
      if [ -n "$(awsr logs describe-log-groups --log-group-name-prefix "$group" --query "logGroups[?logGroupName=='$group'].logGroupName")" ]; then
        printf '%s\t%s\n' "$group" "$pipeline" >>"$tmp/logs"
      fi ;;
  esac
done <"$tmp/found"

count=$(cat "$tmp/fs" "$tmp/buckets" "$tmp/logs" | wc -l | tr -d ' ')
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

while IFS="$(printf '\t')" read -r fs _; do
  [ -n "$fs" ] || continue
  if delete_file_system "$fs"; then echo "deleted file system $fs"; else echo "FAILED to delete file system $fs" >&2; failed=1; fi
done <"$tmp/fs"

while IFS="$(printf '\t')" read -r bucket _; do
  [ -n "$bucket" ] || continue
  if empty_and_delete_bucket "$bucket"; then echo "deleted bucket $bucket"; else echo "FAILED to delete bucket $bucket" >&2; failed=1; fi
done <"$tmp/buckets"

while IFS="$(printf '\t')" read -r group _; do
  [ -n "$group" ] || continue
  if awsr logs delete-log-group --log-group-name "$group" >/dev/null; then echo "deleted log group $group"; else echo "FAILED to delete log group $group" >&2; failed=1; fi
done <"$tmp/logs"

exit "$failed"
