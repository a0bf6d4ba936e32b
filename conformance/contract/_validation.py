"""Validate instances against the contract's schemas and report every violation.

The happy path runs through ``jsonschema_rs`` (about a microsecond per chat chunk);
only an invalid instance is walked again with ``jsonschema`` to get every violation
with its JSON path and its location in the OpenAPI document.
"""

from __future__ import annotations

import itertools
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema.exceptions import ValidationError

_TYPE_NAMES = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    type(None): "null",
}


@dataclass(frozen=True)
class Violation:
    """One way an instance breaks a schema.

    ``json_path`` points into the instance (``$.choices[0].delta``); ``schema_path``
    points into the OpenAPI document (``#/components/schemas/Usage/required``).
    """

    json_path: str
    schema_path: str
    keyword: str
    message: str
    expected: Any
    actual: Any

    @property
    def summary(self) -> str:
        """A title without the instance's values, so repeats across chunks group together."""
        expected = self.expected if isinstance(self.expected, dict) else {}
        if self.keyword == "required":
            return f"required property {expected.get('required')!r} is missing"
        if self.keyword == "type":
            return f"wrong type: expected {_types(expected.get('type'))}"
        if self.keyword in ("anyOf", "oneOf"):
            return f"matches none of the allowed shapes ({_types(expected.get(self.keyword))})"
        if self.keyword in ("const", "enum"):
            return f"value not allowed: expected {expected.get(self.keyword)!r}"
        if self.keyword == "additionalProperties":
            return "property not allowed here"
        return f"breaks `{self.keyword}`: {expected.get(self.keyword)!r}"


def _types(value: Any) -> str:
    if isinstance(value, list):
        return " or ".join(str(v) for v in value)
    return str(value)


# Violations collected from one instance: an array of a million wrong items is a million
# errors, each with its evidence; the first ones say what is wrong.
MAX_VIOLATIONS = 200


class SchemaValidator:
    """A compiled validator for one component schema of the contract. Build once, reuse."""

    def __init__(self, name: str, components: Mapping[str, Any]) -> None:
        self.name = name
        self.pointer = f"#/components/schemas/{name}"
        schema: dict[str, Any] = {"$ref": self.pointer, "components": {"schemas": dict(components)}}
        self._fast = jsonschema_rs.Draft202012Validator(schema)
        self._detail = jsonschema.Draft202012Validator(schema)
        self._root = schema

    def is_valid(self, instance: Any) -> bool:
        try:
            return bool(self._fast.is_valid(instance))
        except (ValueError, OverflowError):  # e.g. integers beyond 64 bits
            return bool(self._detail.is_valid(instance))

    def validate(self, instance: Any) -> list[Violation]:
        """Every violation of the schema by ``instance`` (the first ``MAX_VIOLATIONS``);
        an empty list when it is valid."""
        if self.is_valid(instance):
            return []
        violations: list[Violation] = []
        for error in itertools.islice(self._detail.iter_errors(instance), MAX_VIOLATIONS):
            violations.extend(self._explain(error))
        return _without_echoes(violations)

    def _explain(self, error: ValidationError) -> Iterator[Violation]:
        """Turn one jsonschema error into violations, descending into anyOf/oneOf.

        Of an ``anyOf``, the branches that fail only because the instance has another
        type are passed over; of the rest, the branch with the fewest errors explains
        the failure. When every branch fails on type, the parent is kept: its expected
        value lists the accepted types.
        """
        if error.validator in ("anyOf", "oneOf") and error.context:
            branches: dict[Any, list[ValidationError]] = {}
            for sub in error.context:
                branches.setdefault(sub.relative_schema_path[0], []).append(sub)
            relevant = [
                errors
                for errors in branches.values()
                if not any(e.validator == "type" and not e.relative_path for e in errors)
            ]
            if relevant:
                for sub in min(relevant, key=len):
                    yield from self._explain(sub)
                return
        message = error.message
        expected = _expected(error)
        if error.validator == "required" and isinstance(error.instance, dict):
            name = next(
                (
                    n
                    for n in _listed(error.validator_value)
                    if n not in error.instance and message.startswith(repr(n))
                ),
                None,
            )
            if name is not None:
                expected = {"required": name}
        yield Violation(
            json_path=_json_path(error.absolute_path),
            schema_path=self._document_pointer(error.absolute_schema_path),
            keyword=str(error.validator),
            message=message,
            expected=expected,
            actual=_actual(error),
        )

    def _document_pointer(self, path: Iterable[Any]) -> str:
        """Map jsonschema's schema path to a pointer into the OpenAPI document.

        jsonschema leaves ``$ref`` out of the path and goes on inside the referenced
        schema, so a step that the current node does not have means "follow its $ref".
        """
        pointer = "#"
        node: Any = self._root
        for part in path:
            while isinstance(node, Mapping) and "$ref" in node and part not in node:
                pointer = str(node["$ref"])
                node = resolve_pointer(self._root, pointer)
            pointer += "/" + _escape(str(part))
            node = node[part] if isinstance(node, Mapping | list) else None
        return pointer


def _without_echoes(violations: list[Violation]) -> list[Violation]:
    """Drop an ``enum`` violation that only repeats a ``const`` one beside it, and sort."""
    consts = {
        (v.json_path, v.schema_path.rsplit("/", 1)[0]) for v in violations if v.keyword == "const"
    }
    kept = [
        v
        for v in violations
        if not (v.keyword == "enum" and (v.json_path, v.schema_path.rsplit("/", 1)[0]) in consts)
    ]
    return sorted(kept, key=lambda v: (v.json_path, v.schema_path, v.message))


def resolve_pointer(root: Any, pointer: str) -> Any:
    """The node at a JSON pointer (``#/a/b~1c/0``, RFC 6901 escapes) in ``root``; LookupError
    (KeyError, IndexError) when a step is missing."""
    node: Any = root
    for part in pointer.removeprefix("#").strip("/").split("/"):
        if not part:
            continue
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and key.isdigit():
            node = node[int(key)]
        elif isinstance(node, Mapping):
            node = node[key]
        else:
            raise KeyError(key)
    return node


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _json_path(path: deque[str | int] | Iterable[str | int]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def type_name(value: Any) -> str:
    """The JSON type of a Python value decoded from JSON."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def _expected(error: ValidationError) -> Any:
    keyword, value = error.validator, error.validator_value
    if keyword == "required":
        missing = [
            name
            for name in _listed(value)
            if isinstance(error.instance, dict) and name not in error.instance
        ]
        return {"required": missing or value}
    if keyword == "type":
        return {"type": value}
    if keyword in ("anyOf", "oneOf"):
        return {keyword: [_summarise_branch(branch) for branch in _listed(value)]}
    return {str(keyword): value}


def _listed(value: Any) -> list[Any]:
    """A keyword's value as a list (jsonschema types it loosely, as ``Any | Unset``)."""
    return list(value) if isinstance(value, list | tuple) else []


def _summarise_branch(branch: Any) -> Any:
    if isinstance(branch, Mapping):
        if "$ref" in branch:
            return str(branch["$ref"]).rsplit("/", 1)[-1]
        if "type" in branch:
            return branch["type"]
    return branch


MAX_NAMES_SHOWN = 100  # property names quoted as evidence of a missing one


def _actual(error: ValidationError) -> Any:
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        names = sorted(instance)
        if len(names) > MAX_NAMES_SHOWN:  # a hostile object may have 450,000 of them
            return {"properties": names[:MAX_NAMES_SHOWN], "more": len(names) - MAX_NAMES_SHOWN}
        return {"properties": names}
    if error.validator in ("type", "anyOf", "oneOf"):
        return {"type": type_name(instance), "value": _clip(instance)}
    return _clip(instance)


def _clip(value: Any, limit: int = 200) -> Any:
    """Keep small values as they are; summarise big ones so evidence stays readable."""
    text = json.dumps(value, default=str)
    if len(text) <= limit:
        return value
    return text[:limit] + f"... ({len(text)} characters)"
