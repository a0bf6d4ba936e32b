"""Schema-invalid requests: a valid request with exactly one rule of the document broken.

The rules are read from the contract in force (minimum and maximum, types, required
fields, enums, minItems, nested objects), never written down here; the contract's own
validator confirms that each mutated request is invalid.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.contract._spec import Contract
from conformance.explore._shape import REQUEST, RequestFactory, resolve

Path = tuple[str | int, ...]
DELETE = object()  # the mutation removes the field
MAX_DEPTH = 3  # request.messages[0].role is depth 3
# Values of each JSON type, used where the schema allows another type only.
SAMPLES: tuple[tuple[str, Any], ...] = (
    ("string", "not-a-number"),
    ("number", 1.5),
    ("boolean", True),
    ("array", ["x"]),
    ("object", {"x": 1}),
)


@dataclass(frozen=True)
class Mutation:
    """Set ``path`` to ``value`` (or delete it); ``kind`` says which rule it breaks."""

    path: Path
    kind: str  # "out of range", "wrong type", "missing required", "bad enum", "too few items"
    value: Any = DELETE

    @property
    def json_path(self) -> str:
        out = "$"
        for step in self.path:
            out += f"[{step}]" if isinstance(step, int) else f".{step}"
        return out

    def describe(self) -> str:
        if self.value is DELETE:
            return f"{self.json_path}: {self.kind} (removed)"
        return f"{self.json_path}: {self.kind} ({json.dumps(self.value)})"

    def applies_to(self, body: dict[str, Any]) -> bool:
        """True when the field's parent exists in ``body`` (nested fields need one)."""
        return _parent(body, self.path) is not None

    def apply(self, body: dict[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(body)
        parent = _parent(out, self.path)
        if parent is None:
            return out
        key = self.path[-1]
        if self.value is DELETE:
            if isinstance(parent, dict):
                parent.pop(key, None)
        else:
            parent[key] = copy.deepcopy(self.value)  # _parent checked the key fits
        return out


def _parent(body: Any, path: Path) -> Any:
    node = body
    for step in path[:-1]:
        fits = (isinstance(node, dict) and isinstance(step, str) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and step < len(node)
        )
        if not fits:
            return None
        node = node[step]
    if isinstance(node, dict) and isinstance(path[-1], str):
        return node
    if isinstance(node, list) and isinstance(path[-1], int) and path[-1] < len(node):
        return node
    return None


def mutations(contract: Contract) -> list[Mutation]:
    """Every single-rule break the document allows, down to ``MAX_DEPTH`` fields deep."""
    components = contract.components()
    unique: dict[str, Mutation] = {}
    for found in _sites(components[REQUEST], (), components, required=True):
        key = json.dumps([found.path, found.kind, None if found.value is DELETE else found.value])
        unique.setdefault(key, found)
    return list(unique.values())


def _types(branch: dict[str, Any]) -> set[str] | None:
    """The JSON types a branch allows; None when it allows any."""
    if "type" in branch:
        kinds = branch["type"]
        found = set(kinds) if isinstance(kinds, list) else {kinds}
        return found | ({"number"} if "integer" in found else set())
    values = branch.get("enum", [branch["const"]] if "const" in branch else None)
    if values is None:
        return None
    names = {"str": "string", "bool": "boolean", "int": "integer", "float": "number"}
    return {names.get(type(v).__name__, "null") for v in values}


def _sites(
    schema: Any, path: Path, components: dict[str, Any], *, required: bool
) -> Iterator[Mutation]:
    resolved = resolve(schema, components)
    branches = [
        resolve(b, components) for b in resolved.get("anyOf", [resolved]) if isinstance(b, dict)
    ]
    if path and required:
        yield Mutation(path, "missing required")
    allowed: set[str] = set()
    for branch in branches:
        kinds = _types(branch)
        if kinds is None:
            allowed = {"string", "number", "integer", "boolean", "array", "object", "null"}
            break
        allowed |= kinds
    if path:
        wrong = [value for kind, value in SAMPLES if kind not in allowed]
        for value in wrong[:2]:
            yield Mutation(path, "wrong type", value)
    for branch in branches:
        yield from _branch_sites(branch, path, components)


def _branch_sites(
    branch: dict[str, Any], path: Path, components: dict[str, Any]
) -> Iterator[Mutation]:
    if path and ("enum" in branch or "const" in branch) and branch.get("type") == "string":
        yield Mutation(path, "bad enum", "not-a-valid-value")
    if path and branch.get("type") in ("integer", "number"):
        step = 1 if branch.get("type") == "integer" else 0.5
        if "minimum" in branch:
            yield Mutation(path, "out of range", branch["minimum"] - step)
        if "maximum" in branch:
            yield Mutation(path, "out of range", branch["maximum"] + step)
    if branch.get("type") == "array":
        if path and branch.get("minItems", 0) > 0:
            yield Mutation(path, "too few items", [])
        items = branch.get("items")
        if isinstance(items, dict) and len(path) + 1 < MAX_DEPTH:
            yield from _sites(items, (*path, 0), components, required=False)
    if branch.get("type") == "object" and len(path) < MAX_DEPTH:
        needed = set(branch.get("required", ()))
        for name, sub in (branch.get("properties") or {}).items():
            yield from _sites(sub, (*path, name), components, required=name in needed)


def invalid_requests(factory: RequestFactory, count: int) -> list[tuple[dict[str, Any], Mutation]]:
    """``count`` (invalid request, the mutation that made it) pairs: a valid request from
    ``factory`` with one rule broken, each confirmed invalid by the contract."""
    validator = factory.contract.validator(REQUEST)
    table = mutations(factory.contract)
    coin = random.Random(f"invalid:{factory.seed}")  # noqa: S311 - test inputs, not secrets
    out: list[tuple[dict[str, Any], Mutation]] = []
    for body in factory.valid(count * 3, stream="invalid-base"):
        if len(out) >= count:
            break
        usable = [m for m in table if m.applies_to(body)]
        mutation = coin.choice(usable)
        broken = mutation.apply(body)
        if validator.validate(broken):
            out.append((broken, mutation))
    return out
