#!/usr/bin/env python3
"""Offline checks of modules/ and examples/ (no hashicorp/aws binary needed).

1. Terraform's own validation against the real provider schemas: every
   directory goes through the Terraform 1.15 CLI (tools/terraform: `init
   -backend=false`, then `validate -json`) with our provider and, for
   hashicorp/aws, a schema-only stand-in (tools/schema-provider) serving the
   real schema of 5.70.0 and of 6.25.0, the two ends of the modules'
   constraint, read from HashiCorp's generated bindings on the npm registry
   (aws_schema.py, pinned by version and hash). No error is tolerated.
   Mistakes planted in a copy of the module (misspelt argument, reference to
   a missing attribute, block written as an argument, an argument only 6.x
   has) must each be reported with the file, the block and the argument.
2. HCL-level wiring of modules/batch-pipeline (parsed with the HCL parser
   checkov ships): the state machine, IAM policies, Lambda EFS mount and
   security groups refer to the batch_pipeline attributes and to each other
   as they must; every variable is used; every reference (var., local.,
   resources, data sources, modules) exists; every output refers to
   something; the batch_pipeline attributes used are the documented ones.
3. The module's own variable validations and key-prefix locals, evaluated
   by the Terraform CLI on a copy of their source (no provider needed):
   what they accept and refuse.

Run: .tools/checkov-venv/bin/python tests/terraform/test_modules.py (or with
pytest). Prints "N passed, N failed" and exits non-zero on any failure.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import hcl2  # bc-python-hcl2, installed with checkov (tools/checkov-requirements.txt)

import aws_schema  # beside this file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import plain_runner  # noqa: E402  (tests/plain_runner.py)

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "tools" / "terraform"
MODULE = ROOT / "modules" / "batch-pipeline"
NETWORK = ROOT / "modules" / "network"

# Directory -> how to check it. "extra" files are copied in first (the
# Registry's resource example has no provider block of its own).
CONFIG_DIRS = {
    "modules/batch-pipeline": {},
    "modules/network": {},
    "modules/job-images": {},
    "examples/complete": {},
    "examples/sftp-xml": {},
    "examples/image-resize": {},
    "examples/local": {},
    "examples/provider": {},
    "examples/resources/batch_pipeline": {"extra": ["examples/provider/provider.tf"]},
}
STAGES = ("procurement", "processing", "egress")
# The examples that deploy to AWS (ECR repositories of their own, module calls).
EXAMPLES_ON_AWS = ("examples/complete", "examples/sftp-xml", "examples/image-resize")


# --------------------------------------------------------------- helpers --
def run_tf(args: list[str], cwd: Path, cli_config: Path, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(extra_env or {})
    env.update(
        TF_CLI_CONFIG_FILE=str(cli_config),
        TF_IN_AUTOMATION="1",
        TF_INPUT="0",
        CHECKPOINT_DISABLE="1",
        TF_PLUGIN_CACHE_DIR="",
    )
    env.pop("TF_DATA_DIR", None)
    return subprocess.run([str(TERRAFORM), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def stage_tree(tmp: Path) -> None:
    """Copy modules/ and examples/ (relative module sources keep working)."""
    for top in ("modules", "examples"):
        shutil.copytree(
            ROOT / top,
            tmp / top,
            ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"),
        )
    # examples/complete reads the Lambda zips only when planning; nothing here plans.


def load_dir(path: Path) -> dict:
    """Parse every .tf file of a directory into one dict of block lists."""
    merged: dict = {}
    for f in sorted(path.glob("*.tf")):
        with open(f) as fh:
            parsed = hcl2.load(fh)
        for key, blocks in parsed.items():
            merged.setdefault(key, []).extend(blocks)
    return merged


def v(x):
    """bc-python-hcl2 wraps attribute values in a one-element list."""
    while isinstance(x, list) and len(x) == 1:
        x = x[0]
    return x


def blocks(conf: dict, kind: str) -> dict[str, dict]:
    """resource/data -> {"type.name": body}; variable/output/module -> {name: body}."""
    out: dict[str, dict] = {}
    for entry in conf.get(kind, []):
        for k1, b1 in entry.items():
            if kind in ("resource", "data"):
                for k2, b2 in b1.items():
                    out[f"{k1}.{k2}"] = b2
            else:
                out[k1] = b1
    return out


def locals_of(conf: dict) -> dict:
    out: dict = {}
    for entry in conf.get("locals", []):
        out.update({k: v(val) for k, val in entry.items() if not k.startswith("__")})
    return out


def text(x) -> str:
    return json.dumps(x, sort_keys=True)


def refs(x) -> str:
    """All expression text inside a parsed value, for reference matching."""
    return text(x)


def statements(doc: dict) -> list[dict]:
    """Static and dynamic statements of an aws_iam_policy_document."""
    out = list(doc.get("statement", []))
    for dyn in doc.get("dynamic", []):
        for name, body in dyn.items():
            if name == "statement":
                out.extend(body.get("content", []))
    return out


def by_sid(doc: dict) -> dict[str, dict]:
    return {v(s.get("sid")): s for s in statements(doc) if s.get("sid")}


def flat(x) -> list:
    """Flatten nested lists of strings."""
    if isinstance(x, list):
        out = []
        for item in x:
            out.extend(flat(item))
        return out
    return [x]


# ---------------------------- 1. terraform validate with the real schemas --
# Terraform checks a configuration only against the schemas of providers it
# has. hashicorp/aws cannot be installed here, so a schema-only stand-in
# (tools/schema-provider) serves its real schema, read from the pinned
# bindings HashiCorp generates from each release (aws_schema.py), at both
# ends of the modules' constraint ">= 5.70, < 7.0". Terraform itself then
# reports every unknown argument, computed-only attribute set, block written
# as an argument (and the reverse), missing required argument or block,
# reference to an attribute, variable, local, resource or module that does
# not exist, and unknown resource type, as it would with the real provider.
AWS_VERSIONS = tuple(aws_schema.PINNED)
AWS_CONSTRAINT = ">= 5.70, < 7.0"


def built_binary(name: str) -> Path:
    """The most recently built binary of that name (a stale release build
    must not hide what the tests just built). tests/terraform/run.sh builds
    the provider and the stand-in first."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    builds = [d / name for d in (target / "release", target / "debug") if (d / name).is_file()]
    if not builds:
        raise AssertionError(f"{name} is not built under {target} (tests/terraform/run.sh builds it)")
    return max(builds, key=lambda b: b.stat().st_mtime)


_SCHEMAS: dict = {}


def aws_schema_json(tree: Path, aws_version: str) -> str:
    """hashicorp/aws's schema of the types the tree uses (read once per set)."""
    resources, datas = aws_schema.types_used([tree / "modules", tree / "examples"])
    key = (aws_version, frozenset(resources), frozenset(datas))
    if key not in _SCHEMAS:
        _SCHEMAS[key] = json.dumps(aws_schema.build_schema(aws_version, resources, datas))
    return _SCHEMAS[key]


def validate_dirs(tree: Path, rels: list[str], aws_version: str) -> dict[str, list[dict]]:
    """dir -> error diagnostics of `terraform init` + `terraform validate -json`
    with our provider and the schema-only hashicorp/aws of aws_version."""
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="tf-validate-") as t:
        tmp = Path(t)
        schema_file = tmp / f"aws-{aws_version}.json"
        schema_file.write_text(aws_schema_json(tree, aws_version))
        aws_dir = tmp / "aws-provider"
        aws_dir.mkdir()
        (aws_dir / "terraform-provider-aws").symlink_to(built_binary("terraform-provider-schema-only"))
        ours = built_binary("terraform-provider-batch").parent
        mirror = tmp / "empty-mirror"
        mirror.mkdir()
        rc = tmp / "terraform.rc"
        rc.write_text(
            "provider_installation {\n"
            f'  dev_overrides {{\n    "batch-pipeline/batch" = "{ours}"\n    "hashicorp/aws" = "{aws_dir}"\n  }}\n'
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["*/*/*"]\n  }}\n'
            "}\n"
        )
        env = {"SCHEMA_PROVIDER_FILE": str(schema_file), "SCHEMA_PROVIDER_ADDRESS": aws_schema.PROVIDER_ADDRESS}
        for rel in rels:
            d = tree / rel
            init = run_tf(["init", "-backend=false", "-input=false", "-no-color"], d, rc, env)
            if init.returncode != 0:
                results[rel] = [{"summary": "terraform init failed", "detail": (init.stdout + init.stderr)[-3000:]}]
                continue
            val = run_tf(["validate", "-json", "-no-color"], d, rc, env)
            try:
                report = json.loads(val.stdout)
            except json.JSONDecodeError:
                results[rel] = [{"summary": "validate printed no JSON", "detail": (val.stdout + val.stderr)[-3000:]}]
                continue
            errors = [diag for diag in report.get("diagnostics", []) if diag.get("severity") == "error"]
            if val.returncode != 0 and not errors:
                errors = [{"summary": "validate failed", "detail": (val.stdout + val.stderr)[-3000:]}]
            results[rel] = errors
    return results


def describe(rel: str, diag: dict) -> str:
    """file:line, the summary and detail, and the block it is in (e.g.
    'resource "aws_lambda_function" "prep"'), as Terraform reports them."""
    rng = diag.get("range") or {}
    where = f"{rel}/{rng.get('filename', '?')}:{(rng.get('start') or {}).get('line', '?')}"
    context = (diag.get("snippet") or {}).get("context") or ""
    inside = f" (in {context})" if context else ""
    return f"{where}{inside}: {diag.get('summary')}: {diag.get('detail', '')}"


def stage_config_dirs(tmp: Path) -> list[str]:
    stage_tree(tmp)
    for rel, opts in CONFIG_DIRS.items():
        for extra in opts.get("extra", []):
            shutil.copy(ROOT / extra, tmp / rel / ("_" + Path(extra).name))
    return list(CONFIG_DIRS)


def test_every_dir_validates_against_both_ends_of_the_aws_constraint():
    problems = []
    for version in AWS_VERSIONS:
        with tempfile.TemporaryDirectory(prefix="tf-tree-") as t:
            tree = Path(t)
            rels = stage_config_dirs(tree)
            for rel, errors in validate_dirs(tree, rels, version).items():
                problems += [f"hashicorp/aws {version}: {describe(rel, d)}" for d in errors]
    assert not problems, "\n".join(problems)


def test_the_pinned_schemas_are_the_ends_of_the_constraint():
    """Every versions.tf that requires hashicorp/aws says AWS_CONSTRAINT, and
    the schemas checked are its lowest release and a 6.x."""
    constraints = {}
    for f in sorted([*ROOT.glob("modules/*/versions.tf"), *ROOT.glob("examples/*/versions.tf")]):
        m = re.search(r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*"([^"]*)"', f.read_text())
        if "hashicorp/aws" in f.read_text():
            constraints[str(f.relative_to(ROOT))] = m.group(1) if m else None
    assert constraints and all(c == AWS_CONSTRAINT for c in constraints.values()), constraints
    assert AWS_VERSIONS[0] == "5.70.0", AWS_VERSIONS
    assert any(v.startswith("6.") for v in AWS_VERSIONS), AWS_VERSIONS


# Mistakes planted in a copy of modules/batch-pipeline: (file, old text, new
# text, what Terraform must report: summary, a word of the detail, and the
# block it is in), with the versions that must catch it.
PLANTED = [
    ("lambda.tf", "  memory_size                    = var.lambdas.memory_size\n",
     "  memory_sise                    = var.lambdas.memory_size\n",
     ("Unsupported argument", '"memory_sise"', 'resource "aws_lambda_function" "prep"'), AWS_VERSIONS),
    ("stepfunctions.tf", "  role_arn   = aws_iam_role.sfn.arn\n", "  role_arn   = aws_iam_role.sfn.arm\n",
     ("Unsupported attribute", '"arm"', 'resource "aws_sfn_state_machine" "this"'), AWS_VERSIONS),
    ("stepfunctions.tf", "  logging_configuration {", "  logging_configuration = {",
     ("Unsupported argument", "block", 'resource "aws_sfn_state_machine" "this"'), AWS_VERSIONS),
    ("iam.tf", 'resource "aws_iam_role" "sfn" {\n', 'resource "aws_iam_role" "sfn" {\n  arn = "arn:aws:iam::123456789012:role/x"\n',
     ("Value for unconfigurable attribute", '"arn"', 'resource "aws_iam_role" "sfn"'), AWS_VERSIONS),
    ("lambda.tf", "  role                           = aws_iam_role.prep.arn\n", "",
     ("Missing required argument", '"role"', 'resource "aws_lambda_function" "prep"'), AWS_VERSIONS),
    ("stepfunctions.tf", "  name       = var.name\n", "  name       = var.nme\n",
     ("Reference to undeclared input variable", '"nme"', 'resource "aws_sfn_state_machine" "this"'), AWS_VERSIONS),
    ("stepfunctions.tf", "  tags              = local.tags\n", "  tags              = local.tag\n",
     ("Reference to undeclared local value", '"tag"', 'resource "aws_cloudwatch_log_group" "sfn"'), AWS_VERSIONS),
    ("stepfunctions.tf", "  role_arn   = aws_iam_role.sfn.arn\n", "  role_arn   = aws_iam_role.sfm.arn\n",
     ("Reference to undeclared resource", '"sfm"', 'resource "aws_sfn_state_machine" "this"'), AWS_VERSIONS),
    # `region` on a resource is new in 6.0: only the 5.x schema refuses it.
    ("stepfunctions.tf", 'resource "aws_cloudwatch_log_group" "sfn" {\n',
     'resource "aws_cloudwatch_log_group" "sfn" {\n  region = "eu-west-1"\n',
     ("Unsupported argument", '"region"', 'resource "aws_cloudwatch_log_group" "sfn"'), ("5.70.0",)),
]


def test_planted_mistakes_fail_validate_naming_resource_argument_and_file():
    # One mistake per copy: Terraform skips what depends on a resource that
    # failed validation, so mistakes planted together could hide each other.
    problems = []
    for file, old, new, (summary, word, context), versions in PLANTED:
        for version in AWS_VERSIONS:
            with tempfile.TemporaryDirectory(prefix="tf-planted-") as t:
                tree = Path(t)
                stage_tree(tree)
                path = tree / "modules/batch-pipeline" / file
                src = path.read_text()
                assert src.count(old) == 1, f"{file}: the text to plant over is not there once: {old!r}"
                path.write_text(src.replace(old, new))
                errors = validate_dirs(tree, ["modules/batch-pipeline"], version)["modules/batch-pipeline"]
            reported = [describe("modules/batch-pipeline", d) for d in errors]
            plant = f"{file}: {new.strip()!r}"
            if version not in versions:
                if reported:
                    problems.append(f"hashicorp/aws {version} accepts {plant}, but validate said: {reported}")
                continue
            hit = [r for r in reported if f"/{file}:" in r and summary in r and word in r and f"(in {context})" in r]
            if not hit:
                problems.append(f"hashicorp/aws {version}: {plant}: no {summary} naming {word} in {context}; got: {reported}")
            elif len(reported) != 1:
                problems.append(f"hashicorp/aws {version}: {plant}: errors besides the plant: {reported}")
    assert not problems, "\n".join(problems)


def test_schema_reader_refuses_a_package_it_does_not_understand():
    """A changed generator shape must fail loudly, not yield an empty schema."""
    js = "class Thing extends cdktf.TerraformResource {\n    synthesizeHclAttributes() {\n        const attrs = {\n" \
         "            name: {\n                value: cdktf.stringToHclTerraform(this._name),\n" \
         "                isBlock: false,\n                type: \"simple\",\n                storageClassType: \"string\",\n            },\n" \
         "        };\n    }\n}\nThing.tfResourceType = \"aws_thing\";\n"
    good = "export interface ThingConfig extends cdktf.TerraformMetaArguments {\n    readonly name: string;\n}\n"
    name, block = aws_schema.Module(js, good).top_level(("cdktf.TerraformResource",))
    assert (name, block) == ("aws_thing", {"attributes": {"name": {"type": "string", "required": True}}}), (name, block)
    renamed = good.replace("readonly name:", "readonly title:")
    try:
        aws_schema.Module(js, renamed).top_level(("cdktf.TerraformResource",))
    except aws_schema.SchemaError as e:
        assert "name" in str(e)
    else:
        raise AssertionError("an argument without a declaration was accepted")


def test_terraform_fmt_is_clean():
    out = subprocess.run(
        [str(TERRAFORM), "fmt", "-check", "-recursive", "-diff", "-no-color", "modules", "examples", "tests/terraform"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, f"terraform fmt -check found unformatted files:\n{out.stdout}{out.stderr}"


# ------------------------------------------- 2. HCL-level module wiring --
_CONF: dict = {}


def conf() -> dict:
    if not _CONF:
        _CONF.update(load_dir(MODULE))
    return _CONF


def test_every_variable_is_used():
    c = conf()
    variables = blocks(c, "variable")
    # Everything except the variable blocks themselves (a variable used only
    # in its own validation is still unused).
    rest = text({k: val for k, val in c.items() if k != "variable"})
    unused = [name for name in variables if not re.search(rf"\bvar\.{re.escape(name)}\b", rest)]
    assert not unused, f"unused variables: {unused}"


def test_every_variable_has_description_and_type():
    bad = [n for n, b in blocks(conf(), "variable").items() if not v(b.get("description")) or "type" not in b]
    assert not bad, f"variables without description or type: {bad}"


def test_every_reference_exists():
    c = conf()
    variables = set(blocks(c, "variable"))
    local_names = set(locals_of(c))
    resources = set(blocks(c, "resource"))
    datas = set(blocks(c, "data"))
    modules = set(blocks(c, "module"))
    body = text(c)
    problems = []
    for name in set(re.findall(r"\bvar\.([A-Za-z0-9_-]+)", body)) - variables:
        problems.append(f"var.{name}")
    for name in set(re.findall(r"\blocal\.([A-Za-z0-9_-]+)", body)) - local_names:
        problems.append(f"local.{name}")
    for t, n in set(re.findall(r"\bdata\.([a-z0-9_]+)\.([A-Za-z0-9_-]+)", body)):
        if f"{t}.{n}" not in datas:
            problems.append(f"data.{t}.{n}")
    for n in set(re.findall(r"\bmodule\.([A-Za-z0-9_-]+)", body)) - modules:
        problems.append(f"module.{n}")
    # Resource references: <type>.<name> where type is a provider's resource type.
    for t, n in set(re.findall(r"(?<![.\w])((?:aws|batch)_[a-z0-9_]+)\.([A-Za-z0-9_-]+)", body)):
        if f"{t}.{n}" not in resources and not any(d == f"{t}.{n}" for d in datas):
            # inside data.<type>.<name> the regex also sees <type>.<name>
            if not re.search(rf"data\.{t}\.{n}\b", body):
                problems.append(f"{t}.{n}")
    assert not problems, f"references to undeclared objects: {sorted(problems)}"


def test_every_output_refers_to_something_and_is_described():
    c = conf()
    known = (
        [f"var.{n}" for n in blocks(c, "variable")]
        + [f"local.{n}" for n in locals_of(c)]
        + list(blocks(c, "resource"))
        + [f"data.{n}" for n in blocks(c, "data")]
    )
    problems = []
    for name, out in blocks(c, "output").items():
        value = text(out.get("value"))
        if not any(re.search(rf"(?<![\w.]){re.escape(k)}\b", value) for k in known):
            problems.append(f"{name}: refers to nothing declared ({value})")
        if not v(out.get("description")):
            problems.append(f"{name}: no description")
    assert not problems, "\n".join(problems)


def test_state_machine_uses_the_provider_definition_and_role():
    c = conf()
    res = blocks(c, "resource")
    data = blocks(c, "data")
    sm = res["aws_sfn_state_machine.this"]
    assert v(sm["definition"]) == "${data.batch_state_machine_definition.this.definition}"
    assert v(sm["role_arn"]) == "${aws_iam_role.sfn.arn}"
    logging = v(sm["logging_configuration"])
    assert "aws_cloudwatch_log_group.sfn.arn" in v(logging["log_destination"])

    d = data["batch_state_machine_definition.this"]
    assert v(d["job_queue_arn"]) == "${batch_pipeline.this.job_queue_arn}"
    # Processing and egress go to the pipeline's higher-priority queue.
    assert v(d["later_stages_job_queue_arn"]) == "${batch_pipeline.this.later_stages_job_queue_arn}"
    pipeline = blocks(c, "resource")["batch_pipeline.this"]
    queue = v(pipeline["queue"])
    queue = queue[0] if isinstance(queue, list) else queue
    assert v(queue["priority"]) == "${var.compute.queue_priority}"
    assert v(queue["later_stages_priority"]) == "${var.compute.later_stages_queue_priority}"
    assert v(d["job_definition_arns"]) == "${batch_pipeline.this.job_definition_arns}"
    assert v(d["prep_function_arn"]) == "${aws_lambda_function.prep.arn}"
    assert v(d["watcher_function_arn"]) == "${aws_lambda_function.watcher.arn}"
    assert "var.orchestration.poll_seconds" in v(d["poll_seconds"])
    assert "var.orchestration.timeout_seconds" in v(d["timeout_seconds"])
    # An execution without `config` (the console's default input) runs the
    # pipeline's run configuration.
    assert v(d["default_config"]) == "${batch_pipeline.this.run_config}"


def test_sfn_role_may_only_submit_these_jobs_and_invoke_these_functions():
    c = conf()
    data = blocks(c, "data")
    res = blocks(c, "resource")
    doc = data["aws_iam_policy_document.sfn"]
    sids = by_sid(doc)

    submit = sids["SubmitThisPipelinesJobs"]
    assert flat(v(submit["actions"])) == ["batch:SubmitJob"]
    resources = text(submit["resources"])
    assert "batch_pipeline.this.job_queue_arn" in resources
    # Both queues: the state machine submits the later stages to the second.
    assert "batch_pipeline.this.later_stages_job_queue_arn" in resources
    assert "batch_pipeline.this.job_definition_arns[stage]" in resources and "local.stage_names" in resources
    assert locals_of(c)["stage_names"] == list(STAGES)
    assert '"*"' not in resources

    # A failed run terminates its jobs: TerminateJob on this account's jobs
    # in this region, nothing wider.
    terminate = sids["TerminateThisRunsJobs"]
    assert flat(v(terminate["actions"])) == ["batch:TerminateJob"]
    assert flat(v(terminate["resources"])) == [
        "arn:${local.partition}:batch:${local.region}:${local.account_id}:job/*"
    ]

    invoke = sids["InvokeThisPipelinesFunctions"]
    assert flat(v(invoke["actions"])) == ["lambda:InvokeFunction"]
    inv = flat(v(invoke["resources"]))
    assert set(inv) == {
        "${aws_lambda_function.prep.arn}",
        "${aws_lambda_function.prep.arn}:*",
        "${aws_lambda_function.watcher.arn}",
        "${aws_lambda_function.watcher.arn}:*",
    }

    # Nothing else is granted on a specific resource; "*" only for actions
    # without resource-level permissions.
    for s in statements(doc):
        actions = flat(v(s["actions"]))
        if flat(v(s["resources"])) == ["*"]:
            assert all(a in STAR_OK for a in actions), f"sfn statement {v(s.get('sid'))}: {actions} on *"
    # The .sync pattern's events:PutTargets/PutRule/DescribeRule are not needed:
    # the definition submits and polls through the watcher.
    assert "events:" not in text(doc)

    pol = res["aws_iam_role_policy.sfn"]
    assert v(pol["role"]) == "${aws_iam_role.sfn.id}"
    assert v(pol["policy"]) == "${data.aws_iam_policy_document.sfn.json}"


# Actions that AWS does not scope to resources (documented per service).
STAR_OK = {
    "ecr:GetAuthorizationToken",
    "batch:DescribeJobs",
    "batch:ListJobs",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}


def test_iam_policies_are_least_privilege():
    data = blocks(conf(), "data")
    problems = []
    for name, doc in data.items():
        if not name.startswith("aws_iam_policy_document.") or name == "aws_iam_policy_document.kms":
            continue
        for s in statements(doc):
            sid = v(s.get("sid"))
            effect = v(s.get("effect")) or "Allow"
            actions = flat(v(s.get("actions", [])))
            res = flat(v(s.get("resources", [])))
            if effect == "Deny":
                continue
            for a in actions:
                if a == "*" or a.endswith(":*"):
                    problems.append(f"{name}/{sid}: wildcard action {a}")
            if res == ["*"]:
                bad = [a for a in actions if a not in STAR_OK]
                if bad:
                    problems.append(f"{name}/{sid}: {bad} on Resource *")
    assert not problems, "\n".join(problems)


def test_efs_access_only_through_the_access_point():
    data = blocks(conf(), "data")
    for doc_name in ("aws_iam_policy_document.job", "aws_iam_policy_document.prep"):
        s = by_sid(data[doc_name])["EfsThroughAccessPoint"]
        assert "local.efs_client_actions" in text(s["actions"])
        assert v(s["resources"]) == "${batch_pipeline.this.file_system_arn}" or flat(v(s["resources"])) == ["${batch_pipeline.this.file_system_arn}"]
        cond = v(s["condition"])
        assert v(cond["variable"]) == "elasticfilesystem:AccessPointArn"
        assert flat(v(cond["values"])) == ["${batch_pipeline.this.access_point_arn}"]
    assert locals_of(conf())["efs_client_actions"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]


def test_prep_lambda_mounts_the_access_point_in_the_vpc():
    c = conf()
    res = blocks(c, "resource")
    prep = res["aws_lambda_function.prep"]
    fsc = v(prep["file_system_config"])
    assert v(fsc["arn"]) == "${batch_pipeline.this.access_point_arn}"
    assert v(fsc["local_mount_path"]) == "${local.efs_mount_path}"
    assert locals_of(c)["efs_mount_path"] == "/mnt/efs"
    env = v(v(prep["environment"])["variables"])
    assert env["PIPELINE_EFS_ROOT"] == "${local.efs_mount_path}"
    vpc = v(prep["vpc_config"])
    assert flat(v(vpc["security_group_ids"])) == ["${aws_security_group.prep.id}"]
    assert v(vpc["subnet_ids"]) == "${var.network.subnet_ids}"
    assert v(prep["runtime"]) == "provided.al2023" and v(prep["handler"]) == "bootstrap"
    assert v(prep["role"]) == "${aws_iam_role.prep.arn}"
    watcher = res["aws_lambda_function.watcher"]
    assert v(watcher["runtime"]) == "provided.al2023" and v(watcher["handler"]) == "bootstrap"
    assert v(watcher["role"]) == "${aws_iam_role.watcher.arn}"
    # The jobs see the volume at the same path as the prep Lambda.
    efs = v(res["batch_pipeline.this"]["efs"])
    assert v(efs["mount_path"]) == "${local.efs_mount_path}"


def test_only_jobs_and_prep_reach_efs():
    c = conf()
    res = blocks(c, "resource")
    assert locals_of(c)["efs_clients"] == {"jobs": "${aws_security_group.jobs.id}", "prep": "${aws_security_group.prep.id}"}
    ingress = [n for n in res if n.startswith("aws_vpc_security_group_ingress_rule.")]
    assert ingress == ["aws_vpc_security_group_ingress_rule.efs_from_clients"], ingress
    rule = res["aws_vpc_security_group_ingress_rule.efs_from_clients"]
    assert v(rule["for_each"]) == "${local.efs_clients}"
    assert v(rule["security_group_id"]) == "${aws_security_group.efs.id}"
    assert v(rule["from_port"]) == 2049 and v(rule["to_port"]) == 2049 and v(rule["ip_protocol"]) == "tcp"
    assert v(rule["referenced_security_group_id"]) == "${each.value}"
    assert "cidr_ipv4" not in rule
    bp = res["batch_pipeline.this"]
    assert flat(v(v(bp["efs"])["security_group_ids"])) == ["${aws_security_group.efs.id}"]
    assert flat(v(v(bp["compute"])["security_group_ids"])) == ["${aws_security_group.jobs.id}"]
    for sg in ("jobs", "prep", "efs"):
        body = res[f"aws_security_group.{sg}"]
        assert "ingress" not in body and "egress" not in body, f"{sg}: inline rules"


def test_job_definitions_use_the_module_roles():
    res = blocks(conf(), "resource")
    bp = res["batch_pipeline.this"]
    for stage in STAGES:
        block = v(bp[stage])
        assert v(block["execution_role_arn"]) == "${aws_iam_role.execution.arn}", stage
        assert v(block["job_role_arn"]) == "${aws_iam_role.job.arn}", stage
        assert v(block["image"]) == f"${{var.stages.{stage}.image}}", stage
    trust = {
        "execution": "ecs_tasks", "job": "ecs_tasks", "prep": "lambda", "watcher": "lambda",
        "sfn": "states", "events_forward": "events",
    }
    for role, principal in trust.items():
        assert v(res[f"aws_iam_role.{role}"]["assume_role_policy"]) == f'${{data.aws_iam_policy_document.assume["{principal}"].json}}', role
    assert locals_of(conf())["assume"]["ecs_tasks"] == "ecs-tasks.amazonaws.com"


def test_triggers_start_only_this_state_machine():
    c = conf()
    res = blocks(c, "resource")
    data = blocks(c, "data")
    start = by_sid(data["aws_iam_policy_document.start"])["StartThisStateMachine"]
    assert flat(v(start["actions"])) == ["states:StartExecution"]
    assert flat(v(start["resources"])) == ["${aws_sfn_state_machine.this.arn}"]
    target = v(res["aws_scheduler_schedule.run"]["target"])
    assert v(target["arn"]) == "${aws_sfn_state_machine.this.arn}"
    assert v(target["role_arn"]) == "${aws_iam_role.start.arn}"
    s3t = res["aws_cloudwatch_event_target.s3_incoming"]
    assert v(s3t["arn"]) == "${aws_sfn_state_machine.this.arn}"
    assert v(s3t["role_arn"]) == "${aws_iam_role.start.arn}"
    transformer = v(s3t["input_transformer"])
    paths = v(transformer["input_paths"])
    assert paths == {"BUCKET": "$.detail.bucket.name", "KEY": "$.detail.object.key", "EVENT": "$.id"}
    template = text(transformer["input_template"])
    for placeholder in ("BUCKET", "KEY", "EVENT"):
        assert f"__{placeholder}__" in template
    rule = text(res["aws_cloudwatch_event_rule.s3_incoming"]["event_pattern"])
    assert "Object Created" in rule and "var.s3_trigger.incoming_path" in rule
    completed = text(locals_of(c)["completion_pattern"])
    assert "aws_sfn_state_machine.this.arn" in completed and "Step Functions Execution Status Change" in completed


def test_queue_source_only_the_source_bucket_sends_and_each_role_gets_its_one_job():
    """queue.tf: SSE-KMS on both queues, the redrive to the dead-letter
    queue, a queue policy letting only the source bucket of this account
    send, the pause switch on the schedule, the alarm on the dead-letter
    queue, and least privilege: prep receives, egress (the job role) only
    deletes."""
    c = conf()
    res = blocks(c, "resource")
    data = blocks(c, "data")
    for q in ("aws_sqs_queue.work", "aws_sqs_queue.dead_letter"):
        assert v(res[q]["kms_master_key_id"]) == "${local.kms_key_arn}", q
    assert "aws_sqs_queue.dead_letter[0].arn" in text(res["aws_sqs_queue.work"]["redrive_policy"])
    send = by_sid(data["aws_iam_policy_document.queue"])["SourceBucketNotifications"]
    assert flat(v(send["actions"])) == ["sqs:SendMessage"]
    principals = v(send["principals"])
    assert v(principals["type"]) == "Service" and flat(v(principals["identifiers"])) == ["s3.amazonaws.com"]
    conditions = {v(x["variable"]): (v(x["test"]), flat(v(x["values"]))) for x in flat(v(send["condition"]))}
    assert conditions == {
        "aws:SourceArn": ("ArnEquals", ["${local.source_bucket_arn}"]),
        "aws:SourceAccount": ("StringEquals", ["${local.account_id}"]),
    }, conditions
    schedule = res["aws_scheduler_schedule.queue"]
    assert v(schedule["state"]) == "${var.queue_source.enabled ? \"ENABLED\" : \"DISABLED\"}"
    assert v(v(schedule["target"])["arn"]) == "${aws_sfn_state_machine.this.arn}"
    alarm = res["aws_cloudwatch_metric_alarm.dead_letter"]
    assert "aws_sqs_queue.dead_letter[0].name" in text(alarm["dimensions"])
    assert v(alarm["metric_name"]) == "ApproximateNumberOfMessagesVisible"
    job = by_sid(data["aws_iam_policy_document.job_queue"])["DeleteFinishedMessages"]
    assert flat(v(job["actions"])) == ["sqs:DeleteMessage"]
    assert flat(v(job["resources"])) == ["${aws_sqs_queue.work[0].arn}"]
    prep = by_sid(data["aws_iam_policy_document.prep_queue"])
    assert set(flat(v(prep["ReceiveWork"]["actions"]))) == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"
    }
    assert flat(v(prep["ReceiveWork"]["resources"])) == ["${aws_sqs_queue.work[0].arn}"]
    assert flat(v(prep["HeadAnnouncedObjects"]["actions"])) == ["s3:GetObject"]
    source = text(res["batch_pipeline.this"]["source"])
    assert "aws_sqs_queue.work[0].url" in source and "local.queue_visibility_timeout" in source
    # Both notifications (a bucket the module creates, an existing one)
    # send Object Created under the source prefix and suffix to the queue.
    for n in ("aws_s3_bucket_notification.queue", "aws_s3_bucket_notification.source"):
        body = text(res[n])
        assert "aws_sqs_queue.work[0].arn" in body and "s3:ObjectCreated:*" in body, n
        assert "var.source_data.s3_prefix" in body and "var.source_data.s3_suffix" in body, n


def test_incremental_ledger_is_least_privilege_under_its_prefix():
    """source_data.incremental: prep may list the ledger and read/write
    claims only; the job role may delete claims only (its done records
    fall under the egress prefix it already writes); the claim TTL is the
    run timeout + 600 s; not with a queue source."""
    c = conf()
    res = blocks(c, "resource")
    data = blocks(c, "data")
    loc = locals_of(c)
    assert v(loc["ledger_key_prefix"]) == "${local.egress_key_prefix}_ledger/"
    assert v(loc["claim_ttl_seconds"]) == "${var.orchestration.timeout_seconds + 600}"
    prep = by_sid(data["aws_iam_policy_document.prep"])
    listing = prep["ListLedger"]
    assert flat(v(listing["actions"])) == ["s3:ListBucket"]
    assert flat(v(listing["resources"])) == ["${local.egress_bucket_arn}"]
    cond = v(listing["condition"])
    assert v(cond["variable"]) == "s3:prefix" and flat(v(cond["values"])) == ["${local.ledger_key_prefix}*"]
    claims = prep["ClaimLedgerInputs"]
    # DeleteObject: a failed run's Summarize step releases its own claims.
    assert set(flat(v(claims["actions"]))) == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"}
    assert flat(v(claims["resources"])) == ["${local.egress_bucket_arn}/${local.ledger_key_prefix}claims/*"]
    dynamics = [body for dyn in data["aws_iam_policy_document.prep"].get("dynamic", []) for body in dyn.values()]
    ledger = [d for d in dynamics if "Ledger" in text(d.get("content"))]
    assert len(ledger) == 3 and all("local.incremental" in text(d["for_each"]) for d in ledger), ledger
    job = by_sid(data["aws_iam_policy_document.job"])["ReleaseLedgerClaims"]
    assert flat(v(job["actions"])) == ["s3:DeleteObject"]
    assert flat(v(job["resources"])) == ["${local.egress_bucket_arn}/${local.ledger_key_prefix}claims/*"]
    source = text(res["batch_pipeline.this"]["source"])
    # Only set when incremental: other pipelines' run configurations stay as they were.
    assert '"incremental": ["${local.incremental ?' in source, source
    assert "local.incremental ? local.claim_ttl_seconds" in source, source
    assert "source_data.incremental" in text(res["aws_sqs_queue.work"]["lifecycle"])


def test_retention_reaches_the_pipeline_only_when_set():
    """var.retention becomes the batch_pipeline's retention block (the
    run configuration's `retention`, applied by the Summarize step), and
    no block at all when null, so other pipelines' run configurations stay
    as they were."""
    res = blocks(conf(), "resource")
    dynamics = res["batch_pipeline.this"].get("dynamic", [])
    retention = [d["retention"] for d in dynamics if "retention" in d]
    assert len(retention) == 1, dynamics
    # (the HCL parser spells null None and quotes the list's reference)
    for_each = v(retention[0]["for_each"])
    assert for_each.startswith("${var.retention == None ? [] :") and "var.retention" in for_each[28:], for_each
    content = v(retention[0]["content"])
    assert v(content["keep_runs"]) == "${retention.value.keep_runs}"
    assert v(content["max_age_days"]) == "${retention.value.max_age_days}"


def test_ledger_done_records_expire_only_when_set():
    """egress.ledger_done_expire_days becomes a lifecycle rule on the
    ledger's done records alone, under the prefix the jobs and prep use
    (jobs/src/layout/ledger.rs DONE_DIR under `<egress prefix>/_ledger/`),
    and no rule at all when null."""
    res = blocks(load_dir(MODULE), "resource")
    rules = res["aws_s3_bucket_lifecycle_configuration.egress"].get("dynamic", [])
    ledger = [d["rule"] for d in rules if "rule" in d and "ledger_done_expire_days" in v(d["rule"]["for_each"])]
    assert len(ledger) == 1, rules
    for_each = v(ledger[0]["for_each"])
    assert for_each.startswith("${var.egress.ledger_done_expire_days == None ? [] :"), for_each
    content = v(ledger[0]["content"])
    assert v(content["id"]) == "expire-ledger-done"
    assert v(v(content["filter"])["prefix"]) == "${local.ledger_key_prefix}done/"
    assert v(v(content["expiration"])["days"]) == "${rule.value}"
    main = (MODULE / "main.tf").read_text()
    assert 'ledger_key_prefix = "${local.egress_key_prefix}_ledger/"' in main
    layout = (ROOT / "jobs" / "src" / "layout" / "ledger.rs").read_text()
    assert 'pub const DONE_DIR: &str = "done/";' in layout


def test_superseded_versions_and_revisions_are_bounded():
    """docs/operations.md's limits: the Lambdas publish no versions (only
    $LATEST exists), the pipeline deregisters superseded job definition
    revisions (keep_old_revisions left false), and each job-images
    repository keeps the last keep_images images."""
    res = blocks(conf(), "resource")
    for fn in ("prep", "watcher"):
        assert v(res[f"aws_lambda_function.{fn}"].get("publish", False)) in (False, "false"), fn
    assert "keep_old_revisions" not in res["batch_pipeline.this"]
    images = blocks(load_dir(ROOT / "modules" / "job-images"), "resource")
    policy = text(images["aws_ecr_lifecycle_policy.jobs"]["policy"])
    assert "imageCountMoreThan" in policy and "var.keep_images" in policy, policy


def test_every_log_group_has_retention_and_kms():
    res = blocks(conf(), "resource")
    groups = {n: b for n, b in res.items() if n.startswith("aws_cloudwatch_log_group.")}
    assert groups
    for n, b in groups.items():
        assert v(b["retention_in_days"]) == "${var.logging.retention_days}", n
        assert v(b["kms_key_id"]) == "${local.kms_key_arn}", n
    # The jobs log to the pipeline's own group, and may write only there.
    pipeline = res["batch_pipeline.this"]
    for stage in STAGES:
        assert v(v(pipeline[stage])["log_group_name"]) == "${aws_cloudwatch_log_group.jobs.name}", stage
    execution = text(blocks(conf(), "data")["aws_iam_policy_document.execution"])
    assert "aws_cloudwatch_log_group.jobs.arn" in execution and "/aws/batch/job" not in execution, execution
    assert "local.job_log_group_name" in text(blocks(conf(), "data")["aws_iam_policy_document.kms"])


def test_no_trigger_drops_an_event_silently():
    """Every EventBridge target and every schedule retries, then sends what
    it could not deliver to the undelivered queue, which has an alarm."""
    res = blocks(conf(), "resource")
    targets = {n: b for n, b in res.items() if n.startswith("aws_cloudwatch_event_target.")}
    schedules = {n: v(b["target"]) for n, b in res.items() if n.startswith("aws_scheduler_schedule.")}
    assert len(targets) >= 3 and len(schedules) >= 2, (sorted(targets), sorted(schedules))
    problems = []
    for n, b in {**targets, **schedules}.items():
        if "retry_policy" not in b:
            problems.append(f"{n}: no retry_policy")
        if "aws_sqs_queue.triggers_dead_letter.arn" not in text(b.get("dead_letter_config")):
            problems.append(f"{n}: no dead_letter_config to the undelivered queue")
    for n, b in res.items():
        if n.startswith("aws_scheduler_schedule.") and v(b.get("group_name")) != "${aws_scheduler_schedule_group.this.name}":
            problems.append(f"{n}: not in the pipeline's schedule group (its alarms watch that group)")
    assert not problems, "\n".join(problems)
    # Who may send there: the module's rules (queue policy) and the
    # schedules' role.
    policy = text(blocks(conf(), "data")["aws_iam_policy_document.triggers_dead_letter"])
    assert "events.amazonaws.com" in policy and "rule/${var.name}-*" in policy, policy
    start = text(blocks(conf(), "data")["aws_iam_policy_document.start"])
    assert "sqs:SendMessage" in start and "kms:GenerateDataKey" in start, start


def test_every_dead_letter_queue_and_alarm_is_watched_and_notifies():
    res = blocks(conf(), "resource")
    alarms = {n: b for n, b in res.items() if n.startswith("aws_cloudwatch_metric_alarm.")}
    queues = [n for n in res if n.startswith("aws_sqs_queue.") and ("dead_letter" in n)]
    assert "aws_sqs_queue.triggers_dead_letter" in queues and "aws_sqs_queue.dead_letter" in queues, queues
    # The alerts' alarms are one for_each over local.alarms.
    defined = text(alarms) + text(locals_of(conf()).get("alarms"))
    for q in queues:
        assert f"{q}[0].name" in defined or f"{q}.name" in defined, f"no alarm on {q}"
    problems = []
    for n, b in alarms.items():
        if "local.alert_actions" not in text(b.get("alarm_actions")):
            problems.append(f"{n}: does not notify the alerts topic")
        if not v(b["alarm_name"]).startswith("${local.alarm_name_start}") and not v(b["alarm_name"]).startswith("${var.name}-"):
            problems.append(f"{n}: its name is outside what the topic policy lets publish")
    assert not problems, "\n".join(problems)
    for metric in ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted", "Errors", "Throttles", "TargetErrorCount", "InvocationDroppedCount"]:
        assert re.search(rf"\b{metric}\b", defined), metric


def test_alerts_topic_is_encrypted_and_only_this_pipeline_publishes():
    res = blocks(conf(), "resource")
    topic = res["aws_sns_topic.alerts"]
    assert v(topic["kms_master_key_id"]) == "${local.kms_key_arn}"
    policy = blocks(conf(), "data")["aws_iam_policy_document.alerts_topic"]
    statements = policy["statement"]
    assert len(statements) == 2
    for st in statements:
        conditions = text(st["condition"])
        assert "aws:SourceArn" in conditions, st
    # The KMS key lets CloudWatch (alarms) encrypt for the topic.
    assert "cloudwatch.amazonaws.com" in text(blocks(conf(), "data")["aws_iam_policy_document.kms"])
    # Each placeholder of the message has its input path.
    target = res["aws_cloudwatch_event_target.run_alert"]
    transformer = v(target["input_transformer"])
    paths = set(v(transformer["input_paths"]))
    placeholders = set(re.findall(r"__([A-Z]+)__", text(transformer["input_template"])))
    assert placeholders == {p for p in paths if not p.startswith("__")}, (placeholders, paths)
    assert "$.detail.cause" in text(transformer["input_paths"]), "the failed indices travel in the cause"
    assert "Summary: s3://${local.egress_bucket_name}/${local.egress_key_prefix}__NAME__/_run_summary.json" in text(transformer["input_template"])


def documented_pipeline_attributes() -> set[str]:
    doc = (ROOT / "docs" / "resources" / "pipeline.md").read_text()
    section = doc.split("## Attribute Reference", 1)[1].split("\n## ", 1)[0]
    args = doc.split("## Argument Reference", 1)[1].split("## Attribute Reference", 1)[0]
    names = set(re.findall(r"`([a-z_]+)`", section))
    names |= set(re.findall(r"^- `([a-z_]+)`", args, re.M))
    names |= {"efs"}  # block, read back for file_system_id
    return names


def test_batch_pipeline_attributes_used_are_documented():
    body = text(conf()) + text(load_dir(ROOT / "examples" / "local"))
    used = set(re.findall(r"batch_pipeline\.(?:this|local)\.([a-z_]+)", body))
    undocumented = used - documented_pipeline_attributes()
    assert not undocumented, f"batch_pipeline attributes not in docs/resources/pipeline.md: {sorted(undocumented)}"


def test_resources_carry_the_cleanup_tag():
    c = conf()
    assert locals_of(c)["tags"] == '${merge(var.tags, { "batch-pipeline:name" = var.name })}' or "batch-pipeline:name" in text(locals_of(c)["tags"])
    res = blocks(c, "resource")
    for name in ("batch_pipeline.this", "aws_cloudwatch_log_group.lambda", "aws_cloudwatch_log_group.sfn", "aws_s3_bucket.source", "aws_s3_bucket.access_logs"):
        assert "local.tags" in text(res[name].get("tags")), name


def test_example_module_calls_match_the_modules():
    """Module arguments exist and cover the required variables; module.X.Y outputs exist."""
    problems = []
    for example in EXAMPLES_ON_AWS:
        econf = load_dir(ROOT / example)
        body = text(econf)
        for call, args in blocks(econf, "module").items():
            source = v(args["source"])
            mconf = load_dir((ROOT / example / source).resolve())
            variables = blocks(mconf, "variable")
            outputs = set(blocks(mconf, "output"))
            given = {k for k in args if not k.startswith("__") and k not in ("source", "version", "providers", "depends_on", "count", "for_each")}
            for k in sorted(given - set(variables)):
                problems.append(f"{example}: module.{call} has no variable {k}")
            for k, b in variables.items():
                if "default" not in b and k not in given:
                    problems.append(f"{example}: module.{call} misses required variable {k}")
            for out in set(re.findall(rf"\bmodule\.{call}\.([A-Za-z0-9_]+)", body)):
                if out not in outputs:
                    problems.append(f"{example}: module.{call}.{out} is not an output of {source}")
    assert not problems, "\n".join(problems)


def test_cleanup_script_is_posix_sh():
    script = MODULE / "scripts" / "cleanup-retained.sh"
    assert os.access(script, os.X_OK), "cleanup-retained.sh is not executable"
    for shell in ("sh", "dash"):
        if shutil.which(shell):
            out = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
    out = subprocess.run(["sh", str(script), "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--delete" in out.stdout


def test_source_access_follows_the_prefix_and_the_s3_trigger():
    """prep lists, and the jobs read, the configured prefix and (S3 trigger)
    the incoming_path folder holding the key, at the root or after a '/';
    the rule starts runs for exactly those keys."""
    c = conf()
    data = blocks(c, "data")
    loc = locals_of(c)
    for doc in ("aws_iam_policy_document.job", "aws_iam_policy_document.prep"):
        cond = v(by_sid(data[doc])["ListSourcePrefix"]["condition"])
        assert v(cond["variable"]) == "s3:prefix", doc
        assert v(cond["values"]) == "${local.source_list_prefixes}", doc
    read = by_sid(data["aws_iam_policy_document.job"])["ReadSourceObjects"]
    assert "local.source_object_keys" in text(read["resources"]) and "local.source_bucket_arn" in text(read["resources"])
    for name in ("source_list_prefixes", "source_object_keys"):
        expr = text(loc[name])
        assert "var.source_data.s3_prefix" in expr and "local.s3_trigger" in expr, name
        assert "*/${var.s3_trigger.incoming_path}" in expr, name
    rule = text(blocks(c, "resource")["aws_cloudwatch_event_rule.s3_incoming"]["event_pattern"])
    assert "*/${var.s3_trigger.incoming_path}*${var.s3_trigger.key_suffix}" in rule
    assert "*${var.s3_trigger.incoming_path}*" not in rule.replace("*/${var.s3_trigger.incoming_path}*", "")


def test_egress_grants_use_the_normalised_prefix():
    c = conf()
    sids = by_sid(blocks(c, "data")["aws_iam_policy_document.job"])
    assert flat(v(v(sids["ListEgressPrefix"]["condition"])["values"])) == ["${local.egress_key_prefix}*"]
    assert flat(v(sids["WriteEgressObjects"]["resources"])) == ["${local.egress_bucket_arn}/${local.egress_key_prefix}*"]
    rules = text(blocks(c, "resource")["aws_s3_bucket_lifecycle_configuration.egress"])
    assert "local.egress_key_prefix" in rules and "var.egress.prefix" not in rules
    assert "var.egress.prefix" not in text(blocks(c, "data")["aws_iam_policy_document.job"])


def test_prep_may_put_only_the_run_summary_in_the_egress_bucket():
    """Summarize PUTs <prefix>/<run_id>/_run_summary.json: prep's only
    egress-bucket grant is PutObject of that name, under the normalised
    prefix, with the module key only through S3."""
    sids = by_sid(blocks(conf(), "data")["aws_iam_policy_document.prep"])
    put = sids["WriteRunSummary"]
    assert flat(v(put["actions"])) == ["s3:PutObject"]
    assert flat(v(put["resources"])) == ["${local.egress_bucket_arn}/${local.egress_key_prefix}*/_run_summary.json"]
    # Besides it, only the incremental ledger (listing and claims under
    # <prefix>/_ledger/, granted only with an incremental source).
    egress = {v(s.get("sid")): s for s in sids.values() if "egress_bucket_arn" in text(s.get("resources"))}
    assert set(egress) == {"WriteRunSummary", "ListLedger", "ClaimLedgerInputs"}, sorted(egress)
    for sid in ("ListLedger", "ClaimLedgerInputs"):
        assert "local.ledger_key_prefix" in text(egress[sid]), egress[sid]
    key = sids["RunSummaryKeyViaS3"]
    assert flat(v(key["actions"])) == ["kms:GenerateDataKey"]
    cond = v(key["condition"])
    assert v(cond["variable"]) == "kms:ViaService"
    assert flat(v(cond["values"])) == ["s3.${local.region}.amazonaws.com"]


def test_plan_checks_zips_and_derived_bucket_names():
    res = blocks(conf(), "resource")
    for fn, var in (("prep", "prep_zip"), ("watcher", "watcher_zip")):
        pre = v(v(res[f"aws_lambda_function.{fn}"]["lifecycle"])["precondition"])
        assert v(pre["condition"]) == f"${{fileexists(var.lambdas.{var})}}", fn
        assert "make build-lambdas" in v(pre["error_message"]), fn
    for name, local in (("aws_s3_bucket.access_logs", "log_bucket_name"), ("batch_pipeline.this", "egress_bucket_name")):
        pre = v(v(res[name]["lifecycle"])["precondition"])
        assert v(pre["condition"]) == f"${{length(local.{local}) <= 63}}", name


# --------------------------------------- 3. validations, evaluated by CLI --
def variable_source(name: str, path: Path = MODULE / "variables.tf") -> str:
    """The text of `variable "<name>"` in `path` (the module's variables.tf)."""
    with open(path) as fh:
        for entry in hcl2.load(fh).get("variable", []):
            if name in entry:
                body = entry[name]
                lines = path.read_text().splitlines()
                return "\n".join(lines[body["__start_line__"] - 1 : body["__end_line__"]]) + "\n"
    raise AssertionError(f"no variable {name} in {path}")


def tf_offline(config: str, tfvars: dict, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess:
    """Runs the Terraform CLI on a provider-less configuration."""
    with tempfile.TemporaryDirectory(prefix="tf-vars-") as t:
        d = Path(t)
        (d / "main.tf").write_text(config)
        (d / "case.auto.tfvars.json").write_text(json.dumps(tfvars))
        env = dict(os.environ, TF_IN_AUTOMATION="1", TF_INPUT="0", CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=os.devnull)
        env.pop("TF_DATA_DIR", None)
        return subprocess.run([str(TERRAFORM), *args], cwd=d, env=env, input=stdin, capture_output=True, text=True, timeout=120)


SFTP = {
    "host": "sftp.example.com",
    "user": "feed",
    "private_key_secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:feed-key-AbCdEf",
    "host_key": "SHA256:cxZN8pLShoGrYWTZkBNJJKG1tcFq6PcAE0u31NR6kmw",
    "directory": "/outgoing",
    "egress_cidr_blocks": ["203.0.113.10/32"],
}

# variable -> [(value, None if accepted else a word of the refusal)]
VALIDATION_CASES = {
    "name": [
        ("ghcn-validation", None),
        ("a" * 49, None),
        ("a" * 50, "49"),
        ("1pipeline", "starting with a letter"),
    ],
    "source_data": [
        ({"synthetic_count": 10}, None),
        ({"s3_bucket": "raw-data", "s3_prefix": ""}, None),
        ({"s3_bucket": "raw-data", "s3_prefix": "noaa1/incoming/"}, None),
        ({"s3_bucket": "raw-data", "s3_prefix": "incoming"}, "ending with '/'"),
        ({"s3_bucket": "raw-data", "s3_prefix": "/incoming/"}, "source_data.s3_prefix"),
        ({"s3_bucket": "raw-data", "s3_prefix": "a//"}, "source_data.s3_prefix"),
        ({"s3_bucket": "raw-data", "s3_prefix": "a/../"}, "source_data.s3_prefix"),
        ({"s3_bucket": "raw-data", "s3_prefix": "in*/"}, "source_data.s3_prefix"),
        ({"synthetic_count": 10, "synthetic_format": "ghcn-csv"}, None),
        ({"synthetic_count": 10, "synthetic_format": "yelp-jsonl"}, None),
        ({"synthetic_count": 10, "synthetic_format": "csv"}, "yelp-jsonl or ghcn-csv"),
        ({"s3_bucket": "raw-data", "incremental": True}, None),
        ({"synthetic_count": 10, "incremental": True}, "synthetic ids have nothing to remember"),
        ({"s3_bucket": "raw-data", "synthetic_format": "ghcn-csv"}, "applies only with source_data.synthetic_count"),
        ({"sftp": SFTP}, None),
        ({"sftp": {**SFTP, "port": 2222, "glob": "*.xml", "recursive": True}}, None),
        ({"sftp": SFTP, "synthetic_count": 10}, "exactly one of"),
        ({"sftp": {**SFTP, "private_key_secret_arn": "feed-key"}}, "source_data.sftp.private_key_secret_arn"),
        ({"sftp": {**SFTP, "port": 0}}, "source_data.sftp.port"),
        ({"sftp": {**SFTP, "egress_cidr_blocks": []}}, "source_data.sftp.egress_cidr_blocks"),
        ({"sftp": {**SFTP, "egress_cidr_blocks": ["sftp.example.com"]}}, "source_data.sftp.egress_cidr_blocks"),
        ({"sftp": {**SFTP, "archive": {}}}, None),
        ({"sftp": {**SFTP, "archive": {"bucket": "feed-raw", "prefix": ""}}}, None),
        ({"sftp": {**SFTP, "archive": {"prefix": "sftp/raw/"}}}, None),
        ({"sftp": {**SFTP, "archive": {"prefix": "raw"}}}, "source_data.sftp.archive.prefix"),
        ({"sftp": {**SFTP, "archive": {"prefix": "../raw/"}}}, "source_data.sftp.archive.prefix"),
        ({"sftp": {**SFTP, "archive": {"bucket": "Feed_Raw"}}}, "source_data.sftp.archive.bucket"),
    ],
    "egress": [
        ({}, None),
        ({"prefix": "results/"}, None),
        ({"prefix": "out/results"}, None),
        ({"prefix": ""}, None),
        ({"prefix": "/results"}, "egress.prefix"),
        ({"prefix": "a//b"}, "egress.prefix"),
        ({"prefix": "../results"}, "egress.prefix"),
        ({"prefix": "res*"}, "egress.prefix"),
        ({"ledger_done_expire_days": 400}, None),
        ({"ledger_done_expire_days": 0}, "egress.ledger_done_expire_days"),
        ({"ledger_done_expire_days": 1.5}, "egress.ledger_done_expire_days"),
        ({"ledger_done_expire_days": 30, "create": False}, "egress.ledger_done_expire_days"),
    ],
    "orchestration": [
        ({}, None),
        # 2,600 rounds at most: the provider's own limit (state_machine.rs).
        ({"poll_seconds": 3600, "timeout_seconds": 9360000}, None),
        ({"poll_seconds": 3600, "timeout_seconds": 9360001}, "25,000 events"),
        ({"poll_seconds": 60, "timeout_seconds": 156000}, None),
        ({"poll_seconds": 30, "timeout_seconds": 172800}, "25,000 events"),
        ({"poll_seconds": 5, "timeout_seconds": 86400}, "25,000 events"),
        ({"poll_seconds": 7200}, "poll_seconds <= 3600"),
    ],
    "lambdas": [
        ({"prep_zip": "p.zip", "watcher_zip": "w.zip"}, None),
        ({"prep_zip": "p.zip", "watcher_zip": "w.zip", "prep_reserved_concurrency": -1, "watcher_reserved_concur": -1}, None),
        ({"prep_zip": "p.zip", "watcher_zip": "w.zip", "prep_reserved_concurrency": 0}, "-1 (no reservation)"),
        ({"prep_zip": "p.zip", "watcher_zip": "w.zip", "watcher_reserved_concur": -2}, "-1 (no reservation)"),
    ],
    "efs": [
        ({}, None),
        ({"root_directory": "/"}, None),
        ({"root_directory": "/a/b/c/d"}, None),
        ({"root_directory": "/data/cache.d"}, None),
        ({"root_directory": "/pipeline/"}, "efs.root_directory"),
        ({"root_directory": "/a/b/c/d/e"}, "efs.root_directory"),
        ({"root_directory": "/data/.cache"}, "efs.root_directory"),
        ({"root_directory": "/a//b"}, "efs.root_directory"),
        ({"root_directory": "/" + "a" * 100}, "efs.root_directory"),
        ({"performance_mode": "maxIO"}, "generalPurpose"),
        ({"performance_mode": "maxIO", "throughput_mode": "bursting"}, None),
        ({"performance_mode": "maxIO", "file_system_id": "fs-0123456789abcdef0"}, None),
    ],
    "compute": [
        ({}, None),
        ({"type": "SPOT", "instance_role": "arn:aws:iam::123456789012:instance-profile/x"}, None),
        ({"type": "SPOT", "instance_role": "arn:aws:iam::123456789012:instance-profile/x", "allocation_strategy": "BEST_FIT"}, "Spot Fleet role"),
        ({"type": "EC2", "instance_role": "arn:aws:iam::123456789012:instance-profile/x", "allocation_strategy": "BEST_FIT"}, None),
        ({"queue_priority": 10, "later_stages_queue_priority": 11}, None),
        ({"queue_priority": 10, "later_stages_queue_priority": 10}, "must be greater than compute.queue_priority"),
        ({"queue_priority": 1000}, "must be greater than compute.queue_priority"),
        ({"later_stages_queue_priority": 1001}, "must be greater than compute.queue_priority"),
    ],
    "queue_source": [
        ({}, None),
        ({"enabled": False, "max_messages": 100000, "visibility_timeout_seconds": 43200, "max_receive_count": 1}, None),
        ({"schedule_expression": "every 2 minutes"}, "queue_source.schedule_expression"),
        ({"max_messages": 0}, "queue_source.max_messages"),
        ({"visibility_timeout_seconds": 43201}, "12 hours"),
        ({"max_receive_count": 1001}, "queue_source.max_receive_count"),
        ({"message_retention_seconds": 1209601}, "14 days"),
    ],
    "retention": [
        (None, None),
        ({"keep_runs": 30}, None),
        ({"max_age_days": 14}, None),
        ({"keep_runs": 1, "max_age_days": 3650}, None),
        ({}, "set keep_runs, max_age_days or both"),
        ({"keep_runs": 0}, "retention.keep_runs"),
        ({"keep_runs": 2.5}, "retention.keep_runs"),
        ({"max_age_days": 3651}, "retention.max_age_days"),
    ],
    "s3_trigger": [
        ({"enabled": True}, None),
        ({"incoming_path": "/incoming/"}, "s3_trigger.incoming_path"),
        ({"incoming_path": "incoming"}, "s3_trigger.incoming_path"),
    ],
}


def test_variable_validations_accept_and_refuse():
    problems = []
    for name, cases in VALIDATION_CASES.items():
        config = variable_source(name)
        for value, refusal in cases:
            out = tf_offline(config, {name: value}, ["plan", "-input=false", "-no-color", "-lock=false"])
            said = " ".join((out.stdout + out.stderr).split())
            if refusal is None and out.returncode != 0:
                problems.append(f"{name} = {value!r} refused: {said[-600:]}")
            elif refusal is not None and (out.returncode == 0 or refusal not in said):
                problems.append(f"{name} = {value!r} not refused with {refusal!r}: rc {out.returncode}: {said[-600:]}")
    assert not problems, "\n".join(problems)


def test_network_extra_interface_endpoints_accept_service_names_only():
    """modules/network's vpc.extra_interface_endpoints (e.g. ["sqs"] for a
    queue-fed pipeline without NAT) takes short service names, and they
    join the endpoints the module makes."""
    config = variable_source("vpc", ROOT / "modules" / "network" / "variables.tf")
    problems = []
    base = {"availability_zones": ["eu-west-1a"]}
    for extra, refusal in [(["sqs"], None), (["sqs", "ecr.api"], None), (["com.amazonaws.eu-west-1.sqs "], "short names")]:
        out = tf_offline(config, {"vpc": {**base, "extra_interface_endpoints": extra}}, ["plan", "-input=false", "-no-color", "-lock=false"])
        said = " ".join((out.stdout + out.stderr).split())
        if (refusal is None) != (out.returncode == 0) or (refusal and refusal not in said):
            problems.append(f"{extra!r}: rc {out.returncode}: {said[-400:]}")
    assert not problems, "\n".join(problems)
    network = locals_of(load_dir(ROOT / "modules" / "network"))
    assert "var.vpc.extra_interface_endpoints" in text(network["interface_services"])


def test_image_tag_has_no_mutable_default():
    """modules/job-images makes IMMUTABLE ECR repositories, and `make
    push-images` pushes one tag per build (default: the git revision): a
    `latest` default named a tag nobody pushes, and one that could not be
    pushed twice anyway. image_tag is required (in the module and in every
    example that uses it), and `latest` is refused."""
    path = ROOT / "modules" / "job-images" / "variables.tf"
    for variables in [path, *(ROOT / e / "variables.tf" for e in EXAMPLES_ON_AWS)]:
        with open(variables) as fh:
            body = next(e["image_tag"] for e in hcl2.load(fh)["variable"] if "image_tag" in e)
        assert "default" not in body, (variables, body)
    for example in EXAMPLES_ON_AWS:
        main = (ROOT / example / "main.tf").read_text()
        assert 'source = "../../modules/job-images"' in main and "image_tag = var.image_tag" in main, example
    assert 'image_tag_mutability = "IMMUTABLE"' in (path.parent / "main.tf").read_text()
    config = variable_source("image_tag", path)
    problems = []
    for value, refusal in [
        ("0123456789ab", None),
        ("v1.2.0", None),
        ("0123456789ab-dirty", None),
        ("latest", "immutable"),
        ("", "image tag"),
        ("-x", "image tag"),
        ("a" * 129, "image tag"),
    ]:
        out = tf_offline(config, {"image_tag": value}, ["plan", "-input=false", "-no-color", "-lock=false"])
        said = " ".join((out.stdout + out.stderr).split())
        if refusal is None and out.returncode != 0:
            problems.append(f"image_tag = {value!r} refused: {said[-600:]}")
        elif refusal is not None and (out.returncode == 0 or refusal not in said):
            problems.append(f"image_tag = {value!r} not refused with {refusal!r}: rc {out.returncode}: {said[-600:]}")
    assert not problems, "\n".join(problems)


def test_egress_key_prefix_matches_the_egress_job():
    """jobs/src/stages/egress.rs node_prefix: trailing '/' trimmed, "" = root."""
    main = (MODULE / "main.tf").read_text().splitlines()
    lines = [l for l in main if re.match(r"\s*egress_(key_)?prefix\s*=", l)]
    assert len(lines) == 2, lines
    config = variable_source("egress") + "locals {\n" + "\n".join(lines) + "\n}\n"
    expect = {"results": "results/", "results/": "results/", "results//": "results/", "out/r": "out/r/", "": ""}
    problems = []
    for prefix, want in expect.items():
        out = tf_offline(config, {"egress": {"prefix": prefix}}, ["console"], stdin="jsonencode(local.egress_key_prefix)\n")
        got = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr
        if out.returncode != 0 or json.loads(json.loads(got)) != want:
            problems.append(f"egress.prefix {prefix!r}: key prefix {got!r}, want {want!r}")
    assert not problems, "\n".join(problems)


def test_readme_tables_are_current():
    gen = Path(__file__).with_name("gen_docs.py")
    out = subprocess.run([sys.executable, str(gen), "--check"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr


def test_readme_tables_name_no_parser_metadata():
    """The HCL parser's own keys (`__file__`, `__start_line__`) once showed
    up as resource rows (`aws_iam_role.__file__`), and --check passed them
    because the regeneration had them too: it must now refuse them."""
    sys.path.insert(0, str(Path(__file__).parent))
    import gen_docs

    planted = "| aws_iam_role.__file__ | resource |\n| data.aws_iam_policy_document.__start_line__ | data source |\n| __end_line__ | x |\n| aws_iam_role.this | resource |\n"
    assert len(gen_docs.metadata_rows(planted)) == 3, gen_docs.metadata_rows(planted)
    for mod in gen_docs.MODULES:
        tables = gen_docs.render(mod)
        assert not gen_docs.metadata_rows(tables), (mod, gen_docs.metadata_rows(tables))
        # Every module's resource rows are there (a parser change once dropped them).
        assert "| aws_iam_role." in tables or mod.name != "batch-pipeline", mod
        assert re.search(r"^\| aws_[a-z0-9_]+\.[a-z0-9_]+ \| resource \|$", tables, re.M), mod


if __name__ == "__main__":
    sys.exit(plain_runner.run(globals()))
