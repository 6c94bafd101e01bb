"""The module cycle check finds the pairs it should and no others, on
small crates written for each case."""
from __future__ import annotations

import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import module_cycles  # noqa: E402
import plain_runner  # noqa: E402


def crate(files: dict[str, str]) -> pathlib.Path:
    root = pathlib.Path(tempfile.mkdtemp(prefix="module-cycles-"))
    (root / "Cargo.toml").write_text('[package]\nname = "x"\n')
    for name, text in files.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def pairs(files: dict[str, str]) -> list[tuple[str, str]]:
    root = crate(files)
    return [
        (str(a.relative_to(root / "src")), str(b.relative_to(root / "src")))
        for a, b in module_cycles.mutual_pairs(root)
    ]


def test_siblings_using_each_other_are_a_pair():
    found = pairs({
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "use super::b::B;\npub struct A;\n",
        "b.rs": "pub struct B;\npub fn f() -> crate::a::A { crate::a::A }\n",
    })
    assert found == [("a.rs", "b.rs")], found


def test_one_way_use_is_fine():
    found = pairs({
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "use super::b::B;\n",
        "b.rs": "pub struct B;\n",
    })
    assert found == [], found


def test_grouped_use_counts_each_item():
    found = pairs({
        "lib.rs": "mod m;\n",
        "m/mod.rs": "mod a;\nmod b;\npub struct Shared;\n",
        "m/a.rs": "use super::{Shared, b};\nfn f() { b::g() }\n",
        "m/b.rs": "use super::a;\npub fn g() {}\n",
    })
    assert found == [("m/a.rs", "m/b.rs")], found


def test_parent_calling_child_that_uses_parent_is_a_pair():
    found = pairs({
        "lib.rs": "mod m;\n",
        "m/mod.rs": "mod child;\npub struct Config;\npub fn run() { child::go() }\n",
        "m/child.rs": "use super::Config;\npub fn go() {}\n",
    })
    assert found == [("m/mod.rs", "m/child.rs")], found


def test_parent_that_only_declares_and_reexports_is_fine():
    found = pairs({
        "lib.rs": "mod m;\n",
        "m/mod.rs": "mod child;\npub use self::child::go;\npub struct Config;\n",
        "m/child.rs": "use super::Config;\npub fn go() {}\n",
    })
    assert found == [], found


def test_comments_do_not_count():
    found = pairs({
        "lib.rs": "mod a;\nmod b;\n",
        "a.rs": "// see super::b::B\npub struct A;\n",
        "b.rs": "use crate::a::A;\n",
    })
    assert found == [], found


def test_binaries_are_skipped():
    found = pairs({
        "lib.rs": "pub mod a;\n",
        "a.rs": "pub struct A;\n",
        "bin/tool.rs": "use x::a::A;\nfn main() {}\n",
    })
    assert found == [], found


def test_the_tree_has_no_pairs():
    root = pathlib.Path(__file__).resolve().parents[2]
    found = module_cycles.mutual_pairs(root)
    assert found == [], [f"{a} <-> {b}" for a, b in found]


if __name__ == "__main__":
    sys.exit(plain_runner.run(globals()))
