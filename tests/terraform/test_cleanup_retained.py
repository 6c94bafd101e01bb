#!/usr/bin/env python3
"""cleanup-retained.sh against moto.

What a destroy without force_destroy keeps of pipeline "kept" (a file system,
a versioned bucket, a log group, and the module's KMS key that encrypts them)
is listed, then deleted with --delete: the data first, the key last
(scheduled for deletion). What belongs to pipeline "other" is left alone.

Run by tests/terraform/run.sh with the tools venv's python (boto3 comes with
moto); the AWS CLI the script calls comes from .tools/awscli-venv.
Exits non-zero on failure.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "modules" / "batch-pipeline" / "scripts" / "cleanup-retained.sh"
TAG = "batch-pipeline:name"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(endpoint: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto did not answer at {endpoint}")


def run(env: dict, *args: str, confirm: str | None = None) -> subprocess.CompletedProcess:
    env = dict(env)
    if confirm is not None:
        env["CONFIRM"] = confirm
    return subprocess.run(["sh", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300)


def check(endpoint: str, env: dict) -> None:
    def client(service: str):
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    kms, efs, s3, logs = client("kms"), client("efs"), client("s3"), client("logs")
    key = kms.create_key(Tags=[{"TagKey": TAG, "TagValue": "kept"}])["KeyMetadata"]
    kms.create_alias(AliasName="alias/batch-pipeline/kept", TargetKeyId=key["KeyId"])
    fs = efs.create_file_system(CreationToken="batch-pipeline-kept", Encrypted=True, KmsKeyId=key["Arn"],
                                Tags=[{"Key": TAG, "Value": "kept"}])["FileSystemId"]
    other_fs = efs.create_file_system(CreationToken="batch-pipeline-other",
                                      Tags=[{"Key": TAG, "Value": "other"}])["FileSystemId"]
    s3.create_bucket(Bucket="kept-results")
    s3.put_bucket_tagging(Bucket="kept-results", Tagging={"TagSet": [{"Key": TAG, "Value": "kept"}]})
    s3.put_bucket_versioning(Bucket="kept-results", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"one", b"two"):
        s3.put_object(Bucket="kept-results", Key="results/r1/0/out.csv", Body=body)
    logs.create_log_group(logGroupName="/aws/lambda/kept-prep", tags={TAG: "kept"})

    listed = run(env, "--name", "kept")
    text = listed.stdout + listed.stderr
    assert listed.returncode == 0, text
    for thing in (fs, "kept-results", "/aws/lambda/kept-prep", key["KeyId"]):
        assert thing in text, f"{thing} not listed:\n{text}"
    assert other_fs not in text, text
    assert "Listed only" in text, text
    assert efs.describe_file_systems(FileSystemId=fs)["FileSystems"], "listing deleted something"

    refused = run(env, "--name", "kept", "--delete", confirm="nope")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert efs.describe_file_systems(FileSystemId=fs)["FileSystems"], "a wrong confirmation deleted something"

    deleted = run(env, "--name", "kept", "--delete", confirm="kept")
    text = deleted.stdout + deleted.stderr
    assert deleted.returncode == 0, text
    remaining = [f["FileSystemId"] for f in efs.describe_file_systems()["FileSystems"]
                 if f["LifeCycleState"] != "deleted"]
    assert fs not in remaining and other_fs in remaining, f"{remaining}\n{text}"
    assert "kept-results" not in [b["Name"] for b in s3.list_buckets()["Buckets"]], text
    assert not logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/kept-prep")["logGroups"], text
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion", text
    # The key goes last: its line comes after every data line.
    lines = text.splitlines()
    key_line = next(i for i, line in enumerate(lines) if "scheduled KMS key" in line)
    assert all(i < key_line for i, line in enumerate(lines) if line.startswith("deleted ")), text


def main() -> int:
    aws_bin = ROOT / ".tools" / "awscli-venv" / "bin"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen([str(ROOT / "tools" / "moto-server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(endpoint)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint,
                   PATH=f"{aws_bin}{os.pathsep}{os.environ.get('PATH', '')}")
        env.pop("AWS_PROFILE", None)
        check(endpoint, env)
    except Exception:  # noqa: BLE001 - report and fail
        import traceback
        traceback.print_exc()
        print("FAIL test_cleanup_retained")
        return 1
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    print("ok   test_cleanup_retained")
    return 0


if __name__ == "__main__":
    sys.exit(main())
