#!/usr/bin/env python3
"""AWS's own rules as the oracle for every request the project sends.

moto accepts almost anything: it checks shapes, not the constraints real AWS
enforces. This module checks requests against the public service models
that botocore ships (the pinned version in tools/requirements.txt): every
member's required-ness, string length, pattern and enum, number range, list
and map size, and unknown member names. Where the model is silent and the
service's API reference states a rule in words (Batch's names), the rule is
in DOCUMENTED_RULES below with the sentence it comes from.

Two ways in:
  - check_recording(path): the log moto's request recorder writes
    (MOTO_RECORDER_FILEPATH, started with POST /moto-api/recorder/start-recording):
    each request is matched to its service (the SigV4 credential scope) and
    operation (X-Amz-Target, or the model's HTTP method and URI), its
    parameters read back from the URI, query string, headers and JSON body,
    then checked.
  - check_request(service, operation, params): parameters as Step Functions
    passes them to an integration (PascalCase, as in an ASL Task's
    Parameters) or as the API names them.

Run: python aws_contract.py RECORDING [RECORDING...]
Prints what was checked and every violation; exits 1 on any violation.
"""
from __future__ import annotations

import base64
import functools
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import botocore
import botocore.session

try:  # Java-style patterns with \p{...} classes; re handles the rest.
    import regex as _regex
except ImportError:  # pragma: no cover - the tools venv has it
    _regex = None

# SigV4 signing name -> botocore service name.
SIGNING_NAMES = {
    "batch": "batch",
    "elasticfilesystem": "efs",
    "s3": "s3",
    "lambda": "lambda",
    "states": "stepfunctions",
    "iam": "iam",
    "ecs": "ecs",
    "sts": "sts",
    "ec2": "ec2",
    "events": "events",
    "scheduler": "scheduler",
    "logs": "logs",
    "kms": "kms",
    "ecr": "ecr",
    "sqs": "sqs",
}

# Rules the models leave out but the API references state. Keyed by
# (botocore service, input shape, member): (pattern, the reference's words).
_BATCH_NAME = r"^[A-Za-z0-9_-]{1,128}$"
_BATCH_JOB_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
DOCUMENTED_RULES: dict[tuple[str, str, str], tuple[str, str]] = {
    ("batch", "SubmitJobRequest", "jobName"): (
        _BATCH_JOB_NAME,
        "AWS Batch SubmitJob jobName: up to 128 letters long; the first character must be alphanumeric; "
        "uppercase and lowercase letters, numbers, hyphens (-), and underscores (_).",
    ),
    ("batch", "CreateComputeEnvironmentRequest", "computeEnvironmentName"): (
        _BATCH_NAME,
        "AWS Batch CreateComputeEnvironment computeEnvironmentName: up to 128 characters; uppercase and "
        "lowercase letters, numbers, hyphens (-), and underscores (_).",
    ),
    ("batch", "CreateJobQueueRequest", "jobQueueName"): (
        _BATCH_NAME,
        "AWS Batch CreateJobQueue jobQueueName: up to 128 letters long; uppercase and lowercase letters, "
        "numbers, hyphens (-), and underscores (_).",
    ),
    ("batch", "RegisterJobDefinitionRequest", "jobDefinitionName"): (
        _BATCH_NAME,
        "AWS Batch RegisterJobDefinition jobDefinitionName: up to 128 letters long; uppercase and lowercase "
        "letters, numbers, hyphens (-), and underscores (_).",
    ),
    ("batch", "ArrayProperties", "size"): (
        r"^(?:[2-9]|[1-9][0-9]{1,3}|10000)$",
        "AWS Batch ArrayProperties size: between 2 and 10,000.",
    ),
}


def _fargate_exclusions(p: dict) -> list[tuple[str, str]]:
    cr = p.get("computeResources") or {}
    if cr.get("type") not in ("FARGATE", "FARGATE_SPOT"):
        return []
    banned = ["allocationStrategy", "bidPercentage", "desiredvCpus", "imageId", "instanceTypes", "ec2KeyPair",
              "instanceRole", "launchTemplate", "minvCpus", "placementGroup", "spotIamFleetRole"]
    return [(f"computeResources.{b}", "AWS Batch ComputeResource: for Fargate resources, don't specify it") for b in banned if b in cr]


def _spot_fleet_role(p: dict) -> list[tuple[str, str]]:
    cr = p.get("computeResources") or {}
    if cr.get("type") == "SPOT" and cr.get("allocationStrategy", "BEST_FIT") == "BEST_FIT" and "spotIamFleetRole" not in cr:
        return [("computeResources.spotIamFleetRole", "AWS Batch ComputeResource spotIamFleetRole: required for SPOT "
                 "compute environments whose allocation strategy is BEST_FIT or not given")]
    return []


def _spot_only(p: dict) -> list[tuple[str, str]]:
    cr = p.get("computeResources") or {}
    out = []
    if "bidPercentage" in cr and cr.get("type") != "SPOT":
        out.append(("computeResources.bidPercentage", "AWS Batch ComputeResource bidPercentage: SPOT resources only"))
    if str(cr.get("allocationStrategy", "")).startswith("SPOT_") and cr.get("type") != "SPOT":
        out.append(("computeResources.allocationStrategy", "AWS Batch: SPOT_CAPACITY_OPTIMIZED and SPOT_PRICE_CAPACITY_OPTIMIZED are for SPOT resources only"))
    return out


def _efs_throughput(p: dict) -> list[tuple[str, str]]:
    out = []
    mode = p.get("ThroughputMode", "bursting")
    if mode == "provisioned" and "ProvisionedThroughputInMibps" not in p:
        out.append(("ProvisionedThroughputInMibps", "Amazon EFS: required when ThroughputMode is provisioned"))
    if mode != "provisioned" and "ProvisionedThroughputInMibps" in p:
        out.append(("ProvisionedThroughputInMibps", "Amazon EFS: only with ThroughputMode provisioned"))
    if p.get("PerformanceMode") == "maxIO" and mode == "elastic":
        out.append(("ThroughputMode", "Amazon EFS: Elastic throughput is supported only with the General Purpose performance mode"))
    return out


# Rules that relate members, from the API references' words, by operation.
DOCUMENTED_COMBINATIONS = {
    ("batch", "CreateComputeEnvironment"): [_fargate_exclusions, _spot_fleet_role, _spot_only],
    ("efs", "CreateFileSystem"): [_efs_throughput],
}


@dataclass
class Violation:
    service: str
    operation: str
    path: str
    rule: str
    value: str

    def __str__(self) -> str:
        return f"{self.service}.{self.operation} {self.path}: {self.rule} (got {self.value})"


@dataclass
class Report:
    checked: Counter = field(default_factory=Counter)
    violations: list[Violation] = field(default_factory=list)
    # Requests that could not be matched to an operation (not checked).
    unidentified: list[str] = field(default_factory=list)
    # Patterns neither re nor regex can compile (those members' other
    # constraints are still checked).
    unchecked_patterns: set[str] = field(default_factory=set)
    # Body members left unread (S3's XML payloads), by operation.
    unread_bodies: Counter = field(default_factory=Counter)

    def merge(self, other: "Report") -> None:
        self.checked.update(other.checked)
        self.violations += other.violations
        self.unidentified += other.unidentified
        self.unchecked_patterns |= other.unchecked_patterns
        self.unread_bodies.update(other.unread_bodies)

    def summary(self) -> str:
        lines = [f"checked {sum(self.checked.values())} requests, {len(self.checked)} operations, botocore {botocore.__version__}"]
        lines += [f"  {n:5d}  {op}" for op, n in sorted(self.checked.items())]
        if self.unidentified:
            lines.append(f"not matched to an operation (not checked): {len(self.unidentified)}")
            lines += [f"  {u}" for u in sorted(set(self.unidentified))[:20]]
        if self.unread_bodies:
            lines.append(f"XML bodies not read (their members unchecked): {dict(sorted(self.unread_bodies.items()))}")
        if self.unchecked_patterns:
            lines.append(f"patterns that could not be compiled: {sorted(self.unchecked_patterns)}")
        lines.append(f"{len(self.violations)} violations")
        lines += [f"  {v}" for v in self.violations]
        return "\n".join(lines)


_SESSION = botocore.session.get_session()
_MODELS: dict[str, object] = {}


def model(service: str):
    if service not in _MODELS:
        _MODELS[service] = _SESSION.get_service_model(service)
    return _MODELS[service]


_COMPILED: dict[str, object] = {}


def _pattern(p: str):
    if p not in _COMPILED:
        try:
            _COMPILED[p] = re.compile(p)
        except re.error:
            try:
                _COMPILED[p] = _regex.compile(p) if _regex else None
            except Exception:  # noqa: BLE001 - any compile failure: unchecked
                _COMPILED[p] = None
    return _COMPILED[p]


def _show(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 140 else text[:137] + "..."


class Checker:
    def __init__(self, service: str, operation: str, report: Report):
        self.service, self.operation, self.report = service, operation, report

    def fail(self, path: str, rule: str, value) -> None:
        self.report.violations.append(Violation(self.service, self.operation, path, rule, _show(value)))

    def value(self, shape, value, path: str, owner: str | None = None, member: str | None = None) -> None:
        if value is _NOT_READ:
            self.report.unread_bodies[f"{self.service}.{self.operation}"] += 1
            return
        meta = shape.metadata
        kind = shape.type_name
        if owner is not None and (self.service, owner, member) in DOCUMENTED_RULES:
            pattern, words = DOCUMENTED_RULES[(self.service, owner, member)]
            if not re.search(pattern, str(value)):
                self.fail(path, f"documented rule: {words}", value)
        if kind == "structure":
            if not isinstance(value, dict):
                self.fail(path, "must be an object", value)
                return
            self.structure(shape, value, path)
        elif kind == "list":
            if not isinstance(value, list):
                self.fail(path, "must be a list", value)
                return
            self.bounds(meta, len(value), path, "items", value)
            for i, item in enumerate(value):
                self.value(shape.member, item, f"{path}[{i}]")
        elif kind == "map":
            if not isinstance(value, dict):
                self.fail(path, "must be a map", value)
                return
            self.bounds(meta, len(value), path, "entries", value)
            for k, item in value.items():
                self.value(shape.key, k, f"{path}.key({k!r})")
                self.value(shape.value, item, f"{path}[{k!r}]")
        elif kind == "string":
            if not isinstance(value, str):
                self.fail(path, "must be a string", value)
                return
            self.bounds(meta, len(value), path, "characters", value)
            if "enum" in meta and value not in meta["enum"]:
                self.fail(path, f"must be one of {meta['enum']}", value)
            if "pattern" in meta:
                compiled = _pattern(meta["pattern"])
                if compiled is None:
                    self.report.unchecked_patterns.add(meta["pattern"])
                elif not compiled.search(value):
                    self.fail(path, f"must match the pattern {meta['pattern']}", value)
        elif kind in ("integer", "long", "float", "double"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail(path, f"must be a number ({kind})", value)
                return
            if kind in ("integer", "long") and number != int(number):
                self.fail(path, "must be a whole number", value)
            if "min" in meta and number < meta["min"]:
                self.fail(path, f"must be at least {meta['min']}", value)
            if "max" in meta and number > meta["max"]:
                self.fail(path, f"must be at most {meta['max']}", value)
        elif kind == "boolean":
            if not isinstance(value, bool) and value not in ("true", "false"):
                self.fail(path, "must be a boolean", value)

    def bounds(self, meta: dict, n: int, path: str, unit: str, value) -> None:
        if "min" in meta and n < meta["min"]:
            self.fail(path, f"must have at least {meta['min']} {unit}, has {n}", value)
        if "max" in meta and n > meta["max"]:
            self.fail(path, f"must have at most {meta['max']} {unit}, has {n}", value)

    def structure(self, shape, params: dict, path: str) -> None:
        members = shape.members
        # Step Functions passes PascalCase names to camelCase APIs.
        by_lower = {name.lower(): name for name in members}
        seen = set()
        for key, v in params.items():
            name = key if key in members else by_lower.get(key.lower())
            if name is None:
                self.fail(f"{path}.{key}".lstrip("."), f"is not a member of {shape.name}", v)
                continue
            seen.add(name)
            self.value(members[name], v, f"{path}.{name}".lstrip("."), shape.name, name)
        for req in shape.required_members:
            if req not in seen:
                self.fail(f"{path}.{req}".lstrip("."), f"is required by {shape.name}", None)


def check_request(service: str, operation: str, params: dict, report: Report | None = None) -> Report:
    report = report or Report()
    op = model(service).operation_model(operation)
    report.checked[f"{service}.{operation}"] += 1
    if op.input_shape is not None:
        checker = Checker(service, operation, report)
        checker.structure(op.input_shape, params, "")
        for rule in DOCUMENTED_COMBINATIONS.get((service, operation), []):
            for path, words in rule(params):
                checker.fail(path, f"documented rule: {words}", params)
    elif params:
        report.violations.append(Violation(service, operation, "", "takes no input", _show(params)))
    return report


# ---------------------------------------------------- recorded requests --
def _signing_name(headers: dict) -> str | None:
    auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", auth)
    return m.group(1) if m else None


def _header(headers: dict, name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


# Every request is matched against every operation of its service: each
# model URI is turned into a regex once.
@functools.lru_cache(maxsize=None)
def _uri_regex(request_uri: str) -> tuple[re.Pattern, list[str], dict[str, str | None]]:
    """A regex for the path part of a model requestUri, its labels, and the
    query keys the URI itself requires (S3's `?tagging`, `?x-id=PutObject`)."""
    path, _, query = request_uri.partition("?")
    labels = []
    parts = []
    # Literal text escaped, `{Label}` one segment, `{Label+}` the rest.
    for i, piece in enumerate(re.split(r"\{(\w+\+?)\}", path)):
        if i % 2 == 0:
            parts.append(re.escape(piece))
        else:
            labels.append(piece.rstrip("+"))
            parts.append("(.+)" if piece.endswith("+") else "([^/]+)")
    rx = "".join(parts)
    required = {}
    for part in filter(None, query.split("&")):
        k, _, v = part.partition("=")
        # `x-id=GetObject` is a routing hint some SDKs add, not a requirement.
        if k != "x-id":
            required[k] = v or None
    return re.compile(f"^{rx}/?$"), labels, required


def _missing_headers(op, headers: dict) -> int:
    """Required header members absent (CopyObject is PutObject's URI plus
    the x-amz-copy-source header)."""
    shape = op.input_shape
    if shape is None:
        return 0
    return sum(
        1
        for name in shape.required_members
        if shape.members[name].serialization.get("location") == "header"
        and _header(headers, shape.members[name].serialization.get("name", name)) is None
    )


def _missing_query(op, query: dict) -> int:
    """Required query-string members absent (AbortMultipartUpload is
    DeleteObject's method and URI plus the required uploadId)."""
    shape = op.input_shape
    if shape is None:
        return 0
    return sum(
        1
        for name in shape.required_members
        if shape.members[name].serialization.get("location") == "querystring"
        and shape.members[name].serialization.get("name", name) not in query
    )


def _match_rest(svc, method: str, path: str, query: dict, headers: dict):
    best = None
    for name in svc.operation_names:
        op = svc.operation_model(name)
        if op.http.get("method") != method:
            continue
        rx, labels, required = _uri_regex(op.http["requestUri"])
        m = rx.match(path)
        if not m:
            continue
        if any(k not in query or (v is not None and query[k] != v) for k, v in required.items()):
            continue
        # Prefer the operation whose required headers and query members
        # are there, then the
        # most specific URI (more query keys, more literal text).
        missing = _missing_headers(op, headers) + _missing_query(op, query)
        score = (-missing, len(required), len(rx.pattern) - 8 * len(labels))
        if best is None or score > best[0]:
            best = (score, op, dict(zip(labels, (unquote(g) for g in m.groups()))))
    return (best[1], best[2]) if best else (None, None)


def _rest_params(op, labels: dict, query: dict, headers: dict, body: bytes, protocol: str) -> dict:
    params: dict = {}
    shape = op.input_shape
    if shape is None:
        return params
    payload_member = shape.serialization.get("payload")
    json_body = None
    if protocol == "rest-json" and body and not payload_member:
        try:
            json_body = json.loads(body)
        except ValueError:
            json_body = None
    for name, member in shape.members.items():
        loc = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if loc is None and json_body is None and name in shape.required_members:
            # A body this reader does not parse (S3's XML payloads): its
            # members are not checked, and not reported missing either.
            params[name] = _NOT_READ
        if loc == "uri" and wire in labels:
            params[name] = labels[wire]
        elif loc == "querystring" and wire in query:
            params[name] = _typed(member, query[wire])
        elif loc == "header" and _header(headers, wire) is not None:
            params[name] = _typed(member, _header(headers, wire))
        elif loc is None and isinstance(json_body, dict) and wire in json_body:
            params[name] = json_body[wire]
    if isinstance(json_body, dict):
        wires = {m.serialization.get("name", n) for n, m in shape.members.items()}
        for key in json_body:
            if key not in wires:
                params[key] = json_body[key]  # reported as not a member
    return params


class _NotRead:
    """A body member this reader leaves unparsed (S3's XML payloads)."""


_NOT_READ = _NotRead()


def _typed(member, text: str):
    if member.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            return text
    if member.type_name in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            return text
    if member.type_name == "boolean":
        return text.lower() == "true"
    if member.type_name == "list":
        return [text]
    return text


def identify(entry: dict):
    """(botocore service, operation model, params) of one recorded request,
    or None when it cannot be matched."""
    headers = entry.get("headers") or {}
    signing = _signing_name(headers)
    service = SIGNING_NAMES.get(signing or "")
    if service is None:
        return None
    svc = model(service)
    body = entry.get("body") or ""
    raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
    url = urlsplit(entry.get("url", ""))
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    protocol = svc.metadata["protocol"]
    if protocol == "json":
        target = _header(headers, "X-Amz-Target") or ""
        name = target.rpartition(".")[2]
        if name not in svc.operation_names:
            return None
        try:
            params = json.loads(raw) if raw else {}
        except ValueError:
            return None
        return service, svc.operation_model(name), params
    if protocol == "query" or protocol == "ec2":
        form = dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True)) if raw else query
        name = form.pop("Action", None)
        form.pop("Version", None)
        if name not in svc.operation_names:
            return None
        op = svc.operation_model(name)
        # Top-level scalar members only; flattened lists are not rebuilt.
        params = {k: _typed(op.input_shape.members[k], v) for k, v in form.items()
                  if op.input_shape is not None and k in op.input_shape.members
                  and op.input_shape.members[k].type_name not in ("list", "map", "structure")}
        return service, op, params
    # Matched still percent-encoded (an ARN label holds encoded '/'); the
    # labels are decoded after. S3 requests use path-style addressing here,
    # which is the model's /{Bucket}/{Key+}.
    op, labels = _match_rest(svc, entry.get("method", ""), url.path, query, headers)
    if op is None:
        return None
    return service, op, _rest_params(op, labels, query, headers, raw, protocol)


def recorded_entries(path: Path) -> list[dict]:
    """The entries of a moto recording. moto appends each entry and its
    newline in two writes from concurrent request threads, so two entries
    may share a line (`{A}{B}\n\n`): they are read as consecutive JSON
    values, whatever the whitespace between them. Anything else is an error."""
    text = Path(path).read_text()
    decoder = json.JSONDecoder()
    entries, i = [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return entries
        try:
            entry, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: unreadable recording at character {i}: {e}") from e
        entries.append(entry)


def check_recording(path: Path, report: Report | None = None) -> Report:
    report = report or Report()
    for entry in recorded_entries(path):
        found = identify(entry)
        if found is None:
            report.unidentified.append(f"{entry.get('method')} {urlsplit(entry.get('url', '')).path} "
                                       f"({_signing_name(entry.get('headers') or {}) or 'unsigned'})")
            continue
        service, op, params = found
        check_request(service, op.name, params, report)
    return report


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = Report()
    for p in argv[1:]:
        check_recording(Path(p), report)
    print(report.summary())
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
