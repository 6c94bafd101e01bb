"""The Python baseline for the cold-init benchmark: what a Python Lambda
function with boto3 does before it asks for its first event. It imports
boto3, builds the client it would use (s3 for prep, batch for watcher, as
BENCH_CLIENT says), then calls GET /runtime/invocation/next on the runtime
API and answers each event with {"ok": true}."""

import json
import os
import urllib.request

import boto3

client = boto3.client(os.environ.get("BENCH_CLIENT", "s3"))
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
base = f"http://{api}/2018-06-01/runtime/invocation"
while True:
    with urllib.request.urlopen(f"{base}/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        json.load(answer)
    body = json.dumps({"ok": True}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{base}/{request_id}/response", data=body, method="POST")).read()
