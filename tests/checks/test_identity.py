"""A finding's identity is the kind of failure and where, never a value from the response.

Every ``Finding(...)`` in the package whose title is not one fixed text (an f-string, a
name, a call) must say its ``kind``, and a kind is never built from values (no f-string):
otherwise the same defect with other values would be a new finding in the baseline, in
``compare`` and in exploration."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "conformance"


def _fixed(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def findings_without_a_kind() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Finding"):
                continue
            given = {k.arg: k.value for k in node.keywords}
            title = given.get("title", node.args[0] if node.args else None)
            kind = given.get("kind")
            built = kind is not None and any(isinstance(n, ast.JoinedStr) for n in ast.walk(kind))
            if built or (not _fixed(title) and kind is None):
                out.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return out


def test_every_finding_with_a_built_title_names_its_kind():
    assert findings_without_a_kind() == []
