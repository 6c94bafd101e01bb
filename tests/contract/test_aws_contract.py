#!/usr/bin/env python3
"""The contract checker (aws_contract.py) catches what AWS refuses.

Each known defect the checker exists for is replayed here as the request
the code used to send, and must be reported; the same requests with valid
values must pass. The recorded-request reader is exercised on requests in
the wire forms moto records (REST-JSON with encoded ARNs, JSON 1.0 targets).

Run: .tools/venv/bin/python tests/contract/test_aws_contract.py (or with
pytest). Prints "N passed, N failed"; exits non-zero on any failure.
"""
from __future__ import annotations

import base64
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aws_contract as c  # noqa: E402
import plain_runner  # noqa: E402  (tests/plain_runner.py)


def violations(service: str, operation: str, params: dict) -> list[str]:
    return [str(v) for v in c.check_request(service, operation, params).violations]


def assert_refused(service: str, operation: str, params: dict, *words: str) -> None:
    found = violations(service, operation, params)
    assert any(all(w in v for w in words) for v in found), f"{operation} {params}: want {words}, got {found}"


def assert_accepted(service: str, operation: str, params: dict) -> None:
    found = violations(service, operation, params)
    assert not found, f"{operation} {params}: {found}"


def test_efs_tokens_past_64_characters():
    long_name = "p" + "x" * 63
    assert_refused("efs", "CreateFileSystem", {"CreationToken": f"batch-pipeline-{long_name}"}, "CreationToken", "at most 64")
    assert_accepted("efs", "CreateFileSystem", {"CreationToken": "batch-pipeline-p"})
    ap = {"FileSystemId": "fs-0123456789abcdef0", "ClientToken": f"{long_name}-ap"}
    assert_refused("efs", "CreateAccessPoint", ap, "ClientToken", "at most 64")


def test_efs_root_directory_paths():
    def ap(path: str) -> dict:
        return {"FileSystemId": "fs-0123456789abcdef0", "ClientToken": "t", "RootDirectory": {"Path": path}}

    for bad in ["/pipeline/", "/a/b/c/d/e", "/data/.cache", "/a//b", "pipeline", ""]:
        assert_refused("efs", "CreateAccessPoint", ap(bad), "RootDirectory.Path")
    for good in ["/", "/pipeline", "/a/b/c/d", "/data/cache.d", "/a-b_c/x"]:
        assert_accepted("efs", "CreateAccessPoint", ap(good))


def test_submit_job_names():
    def submit(name: str) -> dict:
        # As Step Functions passes them: PascalCase.
        return {"JobName": name, "JobQueue": "q", "JobDefinition": "d", "ArrayProperties": {"Size": 10}}

    assert_refused("batch", "SubmitJob", submit("procurement-2024.06.01"), "jobName", "documented rule")
    assert_refused("batch", "SubmitJob", submit("procurement-" + "x" * 120), "jobName")
    assert_refused("batch", "SubmitJob", submit("-starts-with-a-hyphen"), "jobName")
    assert_accepted("batch", "SubmitJob", submit("procurement-2024_06_01-1a2b3c4d"))
    too_big = dict(submit("p"), ArrayProperties={"Size": 10001})
    assert_refused("batch", "SubmitJob", too_big, "arrayProperties.size")


def test_unknown_members_and_missing_required_ones():
    assert_refused("batch", "SubmitJob", {"JobName": "a", "JobQueue": "q"}, "jobDefinition", "required")
    assert_refused("batch", "SubmitJob", {"JobName": "a", "JobQueue": "q", "JobDefinition": "d", "Colour": 1}, "Colour", "not a member")
    assert_refused("efs", "CreateFileSystem", {"CreationToken": "t", "ThroughputMode": "turbo"}, "ThroughputMode", "one of")


def test_combinations_the_references_forbid():
    def ce(resources: dict) -> dict:
        return {"computeEnvironmentName": "p-ce", "type": "MANAGED", "computeResources": dict(
            {"maxvCpus": 4, "subnets": ["subnet-1"]}, **resources)}

    assert_refused("batch", "CreateComputeEnvironment", ce({"type": "SPOT", "allocationStrategy": "BEST_FIT"}), "spotIamFleetRole")
    assert_refused("batch", "CreateComputeEnvironment", ce({"type": "SPOT"}), "spotIamFleetRole")
    assert_accepted("batch", "CreateComputeEnvironment", ce({"type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED"}))
    assert_refused("batch", "CreateComputeEnvironment", ce({"type": "FARGATE", "minvCpus": 0}), "minvCpus", "Fargate")
    assert_refused("batch", "CreateComputeEnvironment", ce({"type": "EC2", "bidPercentage": 50}), "bidPercentage")
    assert_refused("efs", "CreateFileSystem", {"CreationToken": "t", "PerformanceMode": "maxIO", "ThroughputMode": "elastic"}, "Elastic")
    assert_refused("efs", "CreateFileSystem", {"CreationToken": "t", "ThroughputMode": "provisioned"}, "ProvisionedThroughputInMibps")
    assert_accepted("efs", "CreateFileSystem", {"CreationToken": "t", "PerformanceMode": "maxIO", "ThroughputMode": "bursting"})


def _entry(method: str, url: str, signing: str, body, headers: dict | None = None) -> dict:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = {"Authorization": f"AWS4-HMAC-SHA256 Credential=AKID/20261206/us-east-1/{signing}/aws4_request, SignedHeaders=host, Signature=x"}
    h.update(headers or {})
    return {"method": method, "url": url, "headers": h, "body": base64.b64encode(raw).decode(), "body_encoded": True}


def test_recorded_requests_are_matched_and_checked():
    entries = [
        # REST-JSON with a body.
        _entry("POST", "http://127.0.0.1:5000/v1/createjobqueue", "batch",
               {"jobQueueName": "p.queue", "priority": 1, "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce"}]}),
        # REST-JSON with an ARN label holding an encoded '/'.
        _entry("GET", "http://127.0.0.1:5000/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A123456789012%3Ajob-queue%2Fq", "batch", b""),
        # JSON 1.0 with X-Amz-Target: an execution name past 80 characters.
        _entry("POST", "http://127.0.0.1:5000/", "states",
               {"stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:p", "name": "r" * 81},
               {"X-Amz-Target": "AWSStepFunctions.StartExecution"}),
        _entry("POST", "http://127.0.0.1:5000/2015-02-01/file-systems", "elasticfilesystem",
               {"CreationToken": "batch-pipeline-" + "x" * 64}),
        # S3, path-style: a key with '/' (the greedy label), PutObject not
        # CopyObject (no x-amz-copy-source), x-id a hint, not a requirement.
        _entry("PUT", "http://127.0.0.1:5000/results/run-1/0/a.csv", "s3", b"a,b\n"),
        _entry("GET", "http://127.0.0.1:5000/raw/incoming/1990.csv?x-id=GetObject", "s3", b""),
    ]
    with tempfile.TemporaryDirectory() as d:
        rec = Path(d) / "rec.jsonl"
        # As concurrent moto threads write it: entries and newlines apart,
        # two entries on one line.
        lines = [json.dumps(e) for e in entries]
        rec.write_text(lines[0] + "\n" + lines[1] + lines[2] + "\n\n" + "\n".join(lines[3:]) + "\n")
        report = c.check_recording(rec)
    assert not report.unidentified, report.unidentified
    assert report.checked == {"batch.CreateJobQueue": 1, "batch.ListTagsForResource": 1,
                              "stepfunctions.StartExecution": 1, "efs.CreateFileSystem": 1,
                              "s3.PutObject": 1, "s3.GetObject": 1}, report.checked
    text = "\n".join(str(v) for v in report.violations)
    assert "batch.CreateJobQueue jobQueueName: documented rule" in text, text
    assert "stepfunctions.StartExecution name: must have at most 80 characters" in text, text
    assert "efs.CreateFileSystem CreationToken: must have at most 64" in text, text
    assert len(report.violations) == 3, text


def test_delete_object_is_not_taken_for_abort_multipart_upload():
    """Both are DELETE /{Bucket}/{Key+}; only AbortMultipartUpload requires
    the uploadId query member (an incremental run's egress deletes claims)."""
    delete = c.identify(_entry("DELETE", "http://127.0.0.1:5000/out/results/_ledger/claims/ab.json?x-id=DeleteObject", "s3", b""))
    assert delete is not None and delete[1].name == "DeleteObject", delete
    abort = c.identify(_entry("DELETE", "http://127.0.0.1:5000/out/results/big.csv?uploadId=u1", "s3", b""))
    assert abort is not None and abort[1].name == "AbortMultipartUpload", abort


def test_a_torn_recording_is_an_error_not_a_pass():
    with tempfile.TemporaryDirectory() as d:
        rec = Path(d) / "rec.jsonl"
        rec.write_text('{"method": "GET", "url": "/x"}\n{"method": "PO')
        try:
            c.check_recording(rec)
        except ValueError as e:
            assert "unreadable recording" in str(e), e
        else:
            raise AssertionError("a torn recording was accepted")


if __name__ == "__main__":
    sys.exit(plain_runner.run(globals()))
