#!/usr/bin/env python3
"""The real hashicorp/aws schema, read from the prebuilt CDK for Terraform
bindings on the npm registry (@cdktf/provider-aws), for the types we use.

HashiCorp generates those bindings from `terraform providers schema -json`
of one exact hashicorp/aws release, so every resource's JavaScript carries
the schema's facts in a regular, generated shape:
  - `synthesizeHclAttributes()` of the resource class and `<struct>ToHclTerraform`
    of every nested block: each argument's Terraform name, whether it is a
    block, its collection kind ("simple", "list", "set", "map", "struct") and
    its element type ("string", "number", "boolean", "stringList", ...);
  - the `.d.ts` interface of each block: which arguments are optional (`?`),
    and whether a block is one object (at most one) or an array;
  - the computed-only attributes, each preceded by a generated comment
    `// <name> - computed: true, optional: false, required: false`.

This module turns those facts into the JSON that `terraform providers schema
-json` prints (format_version 1.0), which the schema-only stand-in provider
(tools/schema-provider) serves to Terraform, so that `terraform validate`
checks our modules against the real schema: unknown arguments, computed-only
attributes set as arguments, blocks written as arguments and the reverse,
missing required arguments and blocks, references to attributes that do not
exist, unknown resource types.

Attribute types are exact for primitives and collections of primitives;
anything more complex (nested attribute objects, maps of maps) is "dynamic",
which Terraform type-checks no further. That can only let a wrong value
through, never refuse a right one.

Run: python3 tests/terraform/aws_schema.py VERSION OUT.json [TYPE ...]
(the default types are those used under modules/ and examples/).
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".tools" / "aws-schema"
NPM_PACKAGE = "@cdktf/provider-aws"

# hashicorp/aws version -> the @cdktf/provider-aws release generated from it,
# with the tarball's sha512 (npm's dist.integrity) so a changed package is
# refused. Both ends of the modules' constraint ">= 5.70, < 7.0".
PINNED = {
    "5.70.0": ("19.36.0", "sha512-lj+W1Wcq5t/mzZ9iVj+bEYGmYwJ9Pu8hNm7l2hpVEbDLHUy3zocAjlbDGsBw2yepi9PJKcY/WKcsL6sSLwkP0g=="),
    "6.25.0": ("21.22.1", "sha512-BuSHeaQFUL9l33pBzIMRT7cTQ69AM2mLtijjteCPhVQRmvuhuj9Lvfymf7knAMhYqAT6+Lrls9jiGVW/Us3zrQ=="),
}
PROVIDER_ADDRESS = "registry.terraform.io/hashicorp/aws"


class SchemaError(Exception):
    """The package does not have the generated shape this reader expects."""


# ------------------------------------------------------------- the package --
def package_tarball(aws_version: str) -> Path:
    """The pinned bindings for one hashicorp/aws version, fetched once with
    `npm pack` into .tools/aws-schema/ and checked against the pinned hash."""
    if aws_version not in PINNED:
        raise SchemaError(f"no pinned {NPM_PACKAGE} release for hashicorp/aws {aws_version}: {sorted(PINNED)}")
    npm_version, integrity = PINNED[aws_version]
    CACHE.mkdir(parents=True, exist_ok=True)
    tgz = CACHE / f"cdktf-provider-aws-{npm_version}.tgz"
    if not tgz.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise SchemaError("npm is not installed (scripts/setup-tools.sh installs it)")
        subprocess.run(
            [npm, "pack", f"{NPM_PACKAGE}@{npm_version}", "--pack-destination", str(CACHE), "--silent"],
            check=True, stdout=subprocess.DEVNULL, timeout=600,
        )
    got = tarball_integrity(tgz)
    if got != integrity:
        tgz.unlink()
        raise SchemaError(f"{tgz.name}: sha512 {got} is not the pinned {integrity}")
    return tgz


def tarball_integrity(path: Path) -> str:
    h = hashlib.sha512()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha512-" + base64.b64encode(h.digest()).decode()


def read_sources(tgz: Path, dirs: set[str]) -> dict[str, tuple[str, str]]:
    """dir -> (index.js, index.d.ts) for the wanted lib/ directories."""
    wanted = {f"package/lib/{d}/index.{ext}": (d, ext) for d in dirs for ext in ("js", "d.ts")}
    found: dict[str, dict[str, str]] = {}
    with tarfile.open(tgz, "r:gz") as tar:
        for member in tar:
            hit = wanted.get(member.name)
            if hit is None:
                continue
            f = tar.extractfile(member)
            if f is None:
                continue
            found.setdefault(hit[0], {})[hit[1]] = f.read().decode("utf-8")
    return {d: (files["js"], files["d.ts"]) for d, files in found.items() if len(files) == 2}


# ------------------------------------------------------ the generated code --
ATTR_ENTRY = re.compile(
    r"(\w+): \{\s*value: (.*?),\s*isBlock: (true|false),\s*type: \"(\w*)\",\s*storageClassType: \"(\w*)\",\s*\}"
)
COMPUTED_ONLY = re.compile(
    r"// (\w+) - computed: true, optional: false, required: false\n\s*"
    r"(?:get \w+\(\) \{\s*return (.*?);|this\._\w+ = (new [\w.]+)\()"
)
PRIMITIVES = {"string": "string", "number": "number", "boolean": "bool"}


def element_type(storage: str) -> object:
    """storageClassType of a primitive collection -> its element type."""
    for suffix in ("List", "Map"):
        if storage.endswith(suffix) and storage[: -len(suffix)] in PRIMITIVES:
            return PRIMITIVES[storage[: -len(suffix)]]
    return None


def argument_type(kind: str, storage: str) -> object:
    if kind == "simple":
        return PRIMITIVES.get(storage, "dynamic")
    if kind in ("list", "set", "map"):
        elem = element_type(storage)
        if elem is not None:
            return [kind, elem]
    return "dynamic"


def computed_type(expr: str) -> object:
    """The type behind a computed-only getter's return expression."""
    getters = [
        ("getStringAttribute", "string"),
        ("getNumberAttribute", "number"),
        ("getBooleanAttribute", "bool"),
        ("getNumberListAttribute", ["list", "number"]),
        ("getListAttribute", ["list", "string"]),
        ("getStringMapAttribute", ["map", "string"]),
        ("getNumberMapAttribute", ["map", "number"]),
        ("getBooleanMapAttribute", ["map", "bool"]),
    ]
    for method, ty in getters:
        if f"this.{method}(" in expr:
            if isinstance(ty, list) and ty[0] == "list" and "Fn.tolist(" in expr:
                return ["set", ty[1]]
            return ty
    if expr.startswith("new cdktf.StringMap("):
        return ["map", "string"]
    if expr.startswith("new cdktf.NumberMap("):
        return ["map", "number"]
    if expr.startswith("new cdktf.BooleanMap("):
        return ["map", "bool"]
    return "dynamic"


def class_bodies(js: str) -> dict[str, tuple[str, str]]:
    """class name -> (base class, body) for every generated class."""
    out = {}
    for m in re.finditer(r"^class (\w+) extends ([\w.]+) \{\n(.*?)^\}", js, re.M | re.S):
        out[m.group(1)] = (m.group(2), m.group(3))
    return out


def interfaces(dts: str) -> dict[str, dict[str, tuple[bool, bool]]]:
    """interface -> {camelName: (optional, is_array)} from the .d.ts."""
    out = {}
    for m in re.finditer(r"^export interface (\w+)(?: extends [\w.]+)? \{\n(.*?)^\}", dts, re.M | re.S):
        props = {}
        # A type may span lines (`{ [key: string]: string; }`): it runs to
        # the next member's doc comment or declaration.
        for p in re.finditer(r"^    readonly (\w+)(\??): (.*?)(?=^    (?:readonly|/\*\*)|\Z)", m.group(2), re.M | re.S):
            props[p.group(1)] = (p.group(2) == "?", "[]" in p.group(3))
        out[m.group(1)] = props
    return out


def camel_of(value_expr: str) -> str:
    m = re.search(r"(?:struct|this)\??\.(?:_)?(\w+)", value_expr.split(")(")[-1]) or re.search(
        r"(?:struct|this)\??\.(?:_)?(\w+)", value_expr
    )
    if not m:
        raise SchemaError(f"no field in {value_expr!r}")
    return m.group(1)


def nested_function(value_expr: str) -> str | None:
    m = re.search(r"(?<![.\w])([a-z]\w*)ToHclTerraform\b", value_expr)
    return m.group(1) if m else None


class Module:
    """One lib/<dir> of the package: a resource, data source or the provider."""

    def __init__(self, js: str, dts: str):
        self.js, self.dts = js, dts
        self.classes = class_bodies(js)
        self.interfaces = interfaces(dts)
        self.functions = {
            m.group(1): m.group(2)
            for m in re.finditer(r"^function (\w+)ToHclTerraform\(struct\) \{\n(.*?)^\}", js, re.M | re.S)
        }

    def main_class(self, bases: tuple[str, ...]) -> str:
        names = [n for n, (base, _) in self.classes.items() if base in bases]
        if len(names) != 1:
            raise SchemaError(f"expected one class extending {bases}, found {names}")
        return names[0]

    def computed_only(self, class_name: str) -> dict[str, dict]:
        if class_name not in self.classes:
            return {}
        body = self.classes[class_name][1]
        attrs = {}
        for m in COMPUTED_ONLY.finditer(body):
            attrs[m.group(1)] = {"type": computed_type(m.group(2) or m.group(3)), "computed": True}
        return attrs

    def block(self, attrs_source: str, interface: str, output_class: str) -> dict:
        props = self.interfaces.get(interface)
        if props is None:
            raise SchemaError(f"no interface {interface}")
        attributes: dict[str, dict] = {}
        block_types: dict[str, dict] = {}
        for m in ATTR_ENTRY.finditer(attrs_source):
            name, value, is_block, kind, storage = m.groups()
            camel = camel_of(value)
            if camel not in props:
                raise SchemaError(f"{interface}: {name} ({camel}) has no declaration")
            optional, is_array = props[camel]
            if is_block == "true":
                fn = nested_function(value)
                if fn is None:
                    raise SchemaError(f"{interface}: block {name} names no nested function")
                struct = fn[0].upper() + fn[1:]
                nested = self.block(self.functions.get(fn, ""), struct, struct + "OutputReference")
                nesting = {"struct": "single"}.get(kind, kind)
                entry = {"nesting_mode": nesting, "block": nested}
                if nesting in ("list", "set"):
                    if not optional:
                        entry["min_items"] = 1
                    if not is_array:
                        entry["max_items"] = 1
                block_types[name] = entry
            else:
                entry = {"type": argument_type(kind, storage)}
                entry["optional" if optional else "required"] = True
                attributes[name] = entry
        for name, entry in self.computed_only(output_class).items():
            attributes.setdefault(name, entry)
        out: dict = {}
        if attributes:
            out["attributes"] = attributes
        if block_types:
            out["block_types"] = block_types
        return out

    def top_level(self, bases: tuple[str, ...]) -> tuple[str | None, dict]:
        """(Terraform type name, block) of the resource, data source or provider."""
        cls = self.main_class(bases)
        body = self.classes[cls][1]
        m = re.search(r"synthesizeHclAttributes\(\) \{\s*const attrs = \{\n(.*?)\n        \};", body, re.S)
        source = m.group(1) if m else ""
        t = re.search(rf"^{cls}\.tfResourceType = \"(\w+)\";", self.js, re.M)
        return (t.group(1) if t else None), self.block(source, cls + "Config", cls)


def resource_dir(type_name: str) -> str:
    return type_name.removeprefix("aws_").replace("_", "-")


def data_dir(type_name: str) -> str:
    return "data-" + type_name.replace("_", "-")


def build_schema(aws_version: str, resources: set[str], data_sources: set[str]) -> dict:
    """The schema JSON (as `terraform providers schema -json` prints it) of
    the provider block and of the given types that this release has; a type
    it lacks is left out, so Terraform reports it as unknown."""
    tgz = package_tarball(aws_version)
    dirs = {resource_dir(t) for t in resources} | {data_dir(t) for t in data_sources} | {"provider"}
    sources = read_sources(tgz, dirs)
    if "provider" not in sources:
        raise SchemaError(f"{tgz.name} has no lib/provider")

    def load(d: str, bases: tuple[str, ...], expected: str | None) -> dict | None:
        if d not in sources:
            return None
        try:
            name, block = Module(*sources[d]).top_level(bases)
        except SchemaError as e:
            raise SchemaError(f"{tgz.name} lib/{d}: {e}") from e
        if expected is not None and name != expected:
            raise SchemaError(f"{tgz.name} lib/{d} is {name}, not {expected}")
        return {"version": 0, "block": block}

    provider = load("provider", ("cdktf.TerraformProvider",), None)
    schema = {
        "provider": provider,
        "resource_schemas": {},
        "data_source_schemas": {},
    }
    for t in sorted(resources):
        s = load(resource_dir(t), ("cdktf.TerraformResource",), t)
        if s is not None:
            schema["resource_schemas"][t] = s
    for t in sorted(data_sources):
        s = load(data_dir(t), ("cdktf.TerraformDataSource",), t)
        if s is not None:
            schema["data_source_schemas"][t] = s
    return {"format_version": "1.0", "provider_schemas": {PROVIDER_ADDRESS: schema}}


def types_used(paths: list[Path]) -> tuple[set[str], set[str]]:
    """aws_* resource and data source types declared in .tf files."""
    resources, datas = set(), set()
    for top in paths:
        for f in sorted(top.rglob("*.tf")):
            if ".terraform" in f.parts:
                continue
            src = f.read_text()
            resources |= set(re.findall(r'^\s*resource\s+"(aws_\w+)"', src, re.M))
            datas |= set(re.findall(r'^\s*data\s+"(aws_\w+)"', src, re.M))
    return resources, datas


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    version, out = argv[1], Path(argv[2])
    if len(argv) > 3:
        resources = {t for t in argv[3:] if not t.startswith("data.")}
        datas = {t.removeprefix("data.") for t in argv[3:] if t.startswith("data.")}
    else:
        resources, datas = types_used([ROOT / "modules", ROOT / "examples"])
    schema = build_schema(version, resources, datas)
    out.write_text(json.dumps(schema, indent=1, sort_keys=True))
    s = schema["provider_schemas"][PROVIDER_ADDRESS]
    print(f"hashicorp/aws {version}: {len(s['resource_schemas'])} resources, {len(s['data_source_schemas'])} data sources -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
