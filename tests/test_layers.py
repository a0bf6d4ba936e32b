"""The import rules of ARCHITECTURE.md, checked on the source: layers only import downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "conformance"
CORE = [
    "_spec",
    "_overlay",
    "_validation",
    "_client",
    "_reader",
    "_decoding",
    "_sse",
    "_redact",
    "_exchange",
    "_model",
    "_settings",
    "_errors",
    "_retry",
    "_ratelimit",
    "_units",
    "_budget",
    "_visible",
    "_latency",
    "_yamlfile",
]
UPPER = (
    "conformance.cli",
    "conformance.plugin",
    "conformance.suite",
    "conformance._report",
    "conformance._html",
    "conformance._compare",
    "conformance._session",
    "conformance._matrix",
    "conformance._matrix_file",
    "conformance._history",
)


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def offending(names: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("module", [m for m in CORE if (PACKAGE / f"{m}.py").exists()])
def test_core_knows_nothing_of_pytest_html_click_or_the_server(module):
    names = imports_of(PACKAGE / f"{module}.py")
    forbidden = (
        "pytest",
        "pytest_html",
        "click",
        "rich",
        "conformance.server",
        "conformance.checks",
        "conformance.explore",
        "conformance._engine",
        *UPPER,
    )
    assert offending(names, forbidden) == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "checks").glob("*.py")), ids=lambda p: p.name)
def test_checks_never_import_the_cli_plugin_report_or_engine(path):
    forbidden = (
        "pytest",
        "click",
        "httpx",
        "conformance.server",
        "conformance.explore",
        "conformance._engine",
        *UPPER,
    )
    assert offending(imports_of(path), forbidden) == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "explore").glob("*.py")), ids=lambda p: p.name)
def test_exploration_knows_nothing_of_pytest_or_html(path):
    forbidden = ("pytest", "pytest_html", "click", *UPPER)
    assert offending(imports_of(path), forbidden) == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "server").glob("*.py")), ids=lambda p: p.name)
def test_the_server_is_built_on_core_only(path):
    forbidden = (
        "pytest",
        "conformance.checks",
        "conformance.explore",
        "conformance._engine",
        *UPPER,
    )
    assert offending(imports_of(path), forbidden) == []


@pytest.mark.parametrize("path", sorted((PACKAGE / "contrib").glob("*.py")), ids=lambda p: p.name)
def test_contrib_only_wires_the_checks_into_other_tools(path):
    """An extension for another tool sits beside the plugin: it reuses checks and exploration's
    judge, and knows nothing of our CLI, plugin, report or server."""
    forbidden = ("pytest", "pytest_html", "click", "conformance.server", *UPPER)
    assert offending(imports_of(path), forbidden) == []
