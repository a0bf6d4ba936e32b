"""ARCHITECTURE.md's import rules, checked on the source.

Each layer folder imports only the layers below it (lazy imports and type-only imports
included: a cycle through either is still a cycle), no module of the package takes part in
an import cycle, and the core knows nothing of pytest, HTML, click or the terminal.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
# Imported by every layer, and importing no other module of the package.
BASE = ("_errors", "_version")
# Each layer folder and the folders it may import (besides itself and the base modules),
# bottom to top. The wiring on top (plugin.py, suite.py, cli/) may import anything.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "wire": (),
    "contract": (),
    "checks": ("wire", "contract"),
    "server": ("wire", "contract"),
    # Client replay: recorded exchanges fed to real client libraries, never the network.
    "clients": ("wire", "contract", "checks"),
    "engine": ("wire", "contract", "checks", "clients"),
    "explore": ("wire", "contract", "checks", "engine"),
    "run": ("wire", "contract", "checks", "clients", "server", "engine", "explore"),
    # Observed traffic (conformance proxy, conformance judge): at the run's level, on the
    # checks through exploration's judge and the run's results builder; never the server.
    "proxy": ("wire", "contract", "checks", "clients", "engine", "explore", "run"),
    "report": ("wire", "contract", "checks", "clients", "engine", "explore", "run"),
    # Extensions for other tools (schemathesis): they reuse the checks and exploration's
    # judge, and know nothing of our run, report, server, plugin or CLI.
    "contrib": ("wire", "contract", "checks", "engine", "explore"),
}
WIRING = ("plugin", "suite", "cli", "__main__", "__init__")
# What each layer must never import from outside the package.
NEVER: dict[str, tuple[str, ...]] = {
    "wire": ("pytest", "pytest_html", "click", "rich", "starlette", "uvicorn"),
    "contract": ("pytest", "pytest_html", "click", "rich", "httpx", "starlette", "uvicorn"),
    "checks": ("pytest", "pytest_html", "click", "rich", "httpx", "starlette", "uvicorn"),
    "server": ("pytest", "pytest_html", "click", "rich"),
    "clients": ("pytest", "pytest_html", "click", "rich", "starlette", "uvicorn"),
    "engine": ("pytest", "pytest_html", "click", "rich"),
    "explore": ("pytest", "pytest_html", "click", "rich"),
    "run": ("pytest", "pytest_html", "click", "rich"),
    "proxy": ("pytest", "pytest_html", "click", "rich", "starlette", "uvicorn"),
    "report": ("click",),
    "contrib": ("pytest", "pytest_html", "click", "rich"),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> set[str]:
    """Every module ``path`` imports, wherever the import statement stands."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layer_of(module: str) -> str:
    """``conformance.wire._client`` -> ``wire``; a top-level module is its own name."""
    parts = module.split(".")
    return parts[1].lstrip("_") if len(parts) > 1 and parts[1] not in BASE else parts[-1]


def internal(names: set[str]) -> set[str]:
    """The package's own modules among ``names`` (``from pkg import module`` resolved)."""
    found = set()
    for imported in names:
        name = imported
        while name and name not in MODULES:
            name = name.rpartition(".")[0]
        if name.startswith("conformance.") or name == "conformance":
            found.add(name)
    return found


def test_every_module_belongs_to_a_layer_or_the_base_or_the_wiring():
    loose = [
        m
        for m in MODULES
        if m != "conformance"
        and m.split(".")[1] not in (*MAY_IMPORT, *WIRING)
        and m.split(".")[1] not in BASE
    ]
    assert loose == [], "put each module in a layer folder (see ARCHITECTURE.md)"


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.count(".") and m.split(".")[1] in MAY_IMPORT]
)
def test_a_layer_imports_only_the_layers_below_it(module):
    layer = module.split(".")[1]
    allowed = (layer, *MAY_IMPORT[layer])
    upward = sorted(
        name
        for name in internal(imports_of(MODULES[module]))
        if name != "conformance"
        and name.split(".")[1] not in BASE
        and name.split(".")[1] not in allowed
    )
    assert upward == []


@pytest.mark.parametrize("module", [f"conformance.{m}" for m in BASE])
def test_the_base_modules_import_nothing_of_the_package(module):
    assert internal(imports_of(MODULES[module])) - {"conformance"} == set()


@pytest.mark.parametrize(
    "module", [m for m in MODULES if m.count(".") and m.split(".")[1] in NEVER]
)
def test_a_layer_knows_nothing_of_what_sits_above_the_package(module):
    forbidden = NEVER[module.split(".")[1]]
    names = imports_of(MODULES[module])
    assert sorted(n for n in names if n.split(".")[0] in forbidden) == []


def test_no_module_takes_part_in_an_import_cycle():
    graph = {
        m: {n for n in internal(imports_of(p)) if n != m and not m.startswith(n + ".")}
        for m, p in MODULES.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for dep in sorted(graph.get(module, ())):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_rules_catch_an_upward_import(tmp_path):
    """The rules above are not vacuous: a wire module importing the engine is caught."""
    source = tmp_path / "bad.py"
    source.write_text("from conformance.engine._engine import Runner\nimport pytest\n")
    names = imports_of(source)
    assert {n.split(".")[1] for n in internal(names)} == {"engine"}
    assert "engine" not in MAY_IMPORT["wire"]
    assert sorted(n for n in names if n.split(".")[0] in NEVER["wire"]) == ["pytest"]
