"""The layering DESIGN.md promises, checked on the imports: topology -> flows -> sdnapp -> rest, pure cores.

A change that makes the pure core do I/O, or the switch side depend on the tenant API, fails here
rather than in a reviewer's head.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("sdnapp", "flows", "topology", "rest", "testbeds")


def imports(module: Path) -> set[str]:
    """Top-level packages and sibling modules (as `.name`) a module imports, anywhere in its body."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                out.update(f".{a.name}" for a in node.names) if node.module is None else out.add(f".{node.module}")
            else:
                out.add((node.module or "").split(".")[0])
    return out


def folder_imports(folder: str) -> set[str]:
    """What a folder's modules import, its subpackages' (rest/neutron/) included."""
    return set().union(*(imports(f) for f in (ROOT / folder).rglob("*.py")))


@pytest.mark.parametrize(
    ("folder", "allowed"),
    [
        ("topology", set()),
        ("flows", {"topology"}),
        ("rest", {"sdnapp", "topology"}),
    ],
)
def test_pure_and_thin_layers_import_only_what_they_may(folder: str, allowed: set[str]) -> None:
    ours = {m for m in folder_imports(folder) if m in PACKAGES} - {folder}
    assert ours <= allowed, f"{folder}/ imports {sorted(ours - allowed)}"
    assert "os_ken" not in folder_imports(folder), f"{folder}/ must not know os-ken"


def test_only_the_composition_root_and_cli_reach_the_rest_layer() -> None:
    users = {f.name for f in (ROOT / "sdnapp").glob("*.py") if "rest" in imports(f)}
    assert users <= {"server.py", "cli.py"}, users


def test_the_flow_codec_is_pure_and_needs_no_os_ken() -> None:
    # os-ken is its oracle in the tests, not its dependency: it is struct and the flow model.
    assert imports(ROOT / "sdnapp" / "flowcodec.py") <= {"__future__", "collections", "operator", "re", "socket",
                                                         "struct", "flows"}


@pytest.mark.parametrize("module", ["reconciler.py", "discovery.py", "desired.py", "ofapp.py", "ofmsg.py",
                                    "flowcodec.py"])
def test_the_switch_side_does_not_depend_on_the_tenant_api(module: str) -> None:
    assert ".service" not in imports(ROOT / "sdnapp" / module)
