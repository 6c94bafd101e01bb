"""Finds pairs of Rust source files that import each other.

Two files that use each other are one unit split in two: neither can be
read, tested or moved alone. Issue #20 asks for none in the tree; this
script keeps it so (`make lint` runs it over every crate).

What counts as "file A imports file B", within one crate:
- a path in A that starts with `crate::`, `super::` or `self::` and names
  B's module (or an item inside it), in a `use` or inline;
- in A, a `mod b;` declaration *and* a use of `b::...` (a parent that only
  declares or re-exports a child does not depend on what the child does,
  but one that calls into it does).
Binaries under `src/bin/` are crates of their own and are skipped.
Comments are ignored; string contents are not parsed (a false pair would
show up as a report, never hide one).

Usage: module_cycles.py [ROOT]   prints each pair, exits 1 if any.
"""
from __future__ import annotations

import pathlib
import re
import sys

SKIP_DIRS = {"target", ".tools", ".git", "fuzz", "node_modules"}
PATH = re.compile(r"\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+((?:crate|super|self)(?:::\w+)*)::\{([^;]*)\};", re.S)
CHILD_MOD = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
COMMENT = re.compile(r"//[^\n]*")
# `pub use child::Item;` re-exports: a facade, not a dependency.
REEXPORT = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+[^;]*;")

Module = tuple[str, ...]


def crate_sources(root: pathlib.Path) -> list[pathlib.Path]:
    """The `src` folder of every Cargo package below root."""
    found = []
    for cargo in sorted(root.rglob("Cargo.toml")):
        if SKIP_DIRS.intersection(cargo.relative_to(root).parts):
            continue
        if (cargo.parent / "src").is_dir():
            found.append(cargo.parent / "src")
    return found


def module_of(src: pathlib.Path, file: pathlib.Path) -> Module | None:
    """`src/a/b.rs` and `src/a/b/mod.rs` are module ("a", "b"); None for binaries."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[0] == "bin":
        return None
    if parts[-1] == "mod":
        parts.pop()
    if parts in (["lib"], ["main"]):
        parts = []
    return tuple(parts)


def referenced_paths(text: str) -> list[str]:
    """Every `crate::`/`super::`/`self::` path, with `use x::{a, b::c}` expanded."""
    paths = PATH.findall(text)
    for base, inner in USE_GROUP.findall(text):
        for item in inner.split(","):
            name = item.strip().split(" as ")[0].split("::")[0].strip()
            if name and name not in ("self", "{"):
                paths.append(f"{base}::{name}")
    return paths


def resolve(path: str, here: Module, modules: set[Module]) -> Module:
    """The deepest known module a path names, starting from module `here`."""
    tokens = path.split("::")
    current = list(here)
    if tokens[0] == "crate":
        current, tokens = [], tokens[1:]
    while tokens and tokens[0] in ("super", "self"):
        if tokens[0] == "super":
            current = current[:-1]
        tokens = tokens[1:]
    for token in tokens:
        if tuple(current + [token]) not in modules:
            break
        current.append(token)
    return tuple(current)


def crate_edges(src: pathlib.Path) -> tuple[dict[Module, pathlib.Path], set[tuple[Module, Module]]]:
    files: dict[Module, pathlib.Path] = {}
    for file in sorted(src.rglob("*.rs")):
        module = module_of(src, file)
        if module is not None:
            files[module] = file
    modules = set(files)
    edges: set[tuple[Module, Module]] = set()
    for module, file in files.items():
        text = REEXPORT.sub("", COMMENT.sub("", file.read_text(encoding="utf-8")))
        for child in CHILD_MOD.findall(text):
            if re.search(rf"(?<![:\w]){child}::", text):
                edges.add((module, module + (child,)))
        for path in referenced_paths(text):
            target = resolve(path, module, modules)
            if target != module and target in modules:
                edges.add((module, target))
    return files, edges


def mutual_pairs(root: pathlib.Path) -> list[tuple[pathlib.Path, pathlib.Path]]:
    pairs = []
    for src in crate_sources(root):
        files, edges = crate_edges(src)
        for a, b in sorted(edges):
            if a < b and (b, a) in edges:
                pairs.append((files[a], files[b]))
    return pairs


def main(argv: list[str]) -> int:
    root = pathlib.Path(argv[1] if len(argv) > 1 else ".").resolve()
    pairs = mutual_pairs(root)
    for a, b in pairs:
        print(f"{a.relative_to(root)} <-> {b.relative_to(root)}: these files import each other")
    if pairs:
        print(f"{len(pairs)} pair(s) of files import each other; move what both need into one of them or a third")
        return 1
    print(f"no two files import each other ({len(crate_sources(root))} crates)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
