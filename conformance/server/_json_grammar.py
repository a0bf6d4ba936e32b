"""JSON that a sampling model writes under a grammar: random values that a schema accepts.

The model-like server answers ``response_format`` (``json_object``, ``json_schema``) and
writes tool-call arguments through these functions, as llama.cpp or vLLM constrain decoding
with a grammar built from the schema: the value is random (optional properties come and go,
strings are random words, numbers random within their bounds, ``anyOf`` picks a random
branch), but always valid. A value that a random draw cannot make valid (a keyword this
module does not understand, such as ``pattern``) falls back to the deterministic
``minimal_instance``, so what is emitted validates whenever that does.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import UnknownType

from conformance.contract._validation import resolve_pointer
from conformance.server._instance import minimal_instance, word_source

MAX_DEPTH = 6  # deeper than this, random draws stop adding optional content
STOP_DEPTH = 40  # a schema that requires itself has no finite instance: give up this draw
DRAWS = 4  # random attempts at a valid value before the minimal instance is used
KEY_WORDS = ("name", "value", "city", "count", "note", "items", "ok", "score", "tag", "when")
VALUE_WORDS = (
    "river", "stone", "cloud", "ember", "harbor", "lantern", "meadow", "orbit", "quartz",
    "signal", "thistle", "willow", "café", "naïve", "blue", "seven", "north", "quiet",
)  # fmt: skip


def json_object(rng: random.Random) -> dict[str, Any]:
    """A random JSON object (JSON mode): one to four keys, scalar or small nested values."""
    return {
        key: _any_value(rng, 0)
        for key in rng.sample(KEY_WORDS, rng.randint(1, 4))  # distinct keys
    }


def schema_instance(schema: Mapping[str, Any], rng: random.Random) -> object:
    """A random value valid against ``schema`` (its ``$ref``\\s resolve within it)."""
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_class.check_schema(dict(schema))
        validator = validator_class(schema)
        for _ in range(DRAWS):
            value: Any = _Drawer(schema, rng).draw(schema, 0)
            if validator.is_valid(value):
                return value
    except (jsonschema.SchemaError, UnknownType, re.error, RecursionError, TypeError, ValueError):
        pass  # a schema this module (or jsonschema) cannot draw for: the minimal instance
    words = word_source(VALUE_WORDS, rng.randrange(len(VALUE_WORDS)))
    return minimal_instance(schema, words=words)


def dumps(value: object, rng: random.Random) -> str:
    """``value`` as JSON text, compact or spaced as a model happens to write it."""
    spaced = rng.random() < 0.5
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(value, ensure_ascii=False, separators=separators)


def _any_value(rng: random.Random, depth: int) -> object:
    """A random JSON value: mostly scalars, sometimes (not too deep) an array or an object."""
    makers: list[tuple[float, Callable[[], object]]] = [
        (0.45, lambda: " ".join(rng.choice(VALUE_WORDS) for _ in range(rng.randint(1, 3)))),
        (0.65, lambda: rng.randint(-50, 500)),
        (0.75, lambda: round(rng.uniform(-10, 10), rng.randint(1, 3))),
        (0.85, lambda: rng.random() < 0.5),
        (0.9 if depth < 2 else 1.0, lambda: None),
        (0.95, lambda: [_any_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]),
        (1.0, lambda: {k: _any_value(rng, depth + 1) for k in rng.sample(KEY_WORDS, 2)}),
    ]
    roll = rng.random()
    return next(make for bound, make in makers if roll < bound)()


class _Drawer:
    """One random draw for one schema (``root`` for ``$ref``)."""

    def __init__(self, root: Mapping[str, Any], rng: random.Random) -> None:
        self.root = root
        self.rng = rng

    def draw(self, schema: object, depth: int) -> object:
        rng = self.rng
        if schema is True or not isinstance(schema, Mapping) or depth > STOP_DEPTH:
            return _any_value(rng, 2)
        schema = self._flatten(schema)
        enum = schema.get("enum")
        if "const" in schema:
            return schema["const"]
        if isinstance(enum, list) and enum:
            return rng.choice(enum)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = rng.choice(kind) if kind else None
        makers: dict[object, Callable[[], object]] = {
            "object": lambda: self._object(schema, depth),
            "array": lambda: self._array(schema, depth),
            "string": lambda: self._string(schema),
            "integer": lambda: _number(schema, rng, integer=True),
            "number": lambda: _number(schema, rng, integer=False),
            "boolean": lambda: rng.random() < 0.5,
            "null": lambda: None,
        }
        make = makers.get(kind if kind is not None else _implied_kind(schema))
        return make() if make is not None else _any_value(rng, 2)

    def _flatten(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        for _ in range(20):
            ref = schema.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                try:
                    target = resolve_pointer(self.root, ref)
                except LookupError:
                    target = {}
                rest = {k: v for k, v in schema.items() if k != "$ref"}
                schema = {**(target if isinstance(target, Mapping) else {}), **rest}
                continue
            branches = schema.get("anyOf") or schema.get("oneOf")
            if isinstance(branches, list) and branches:
                rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                branch = self.rng.choice(branches)
                schema = {**rest, **(branch if isinstance(branch, Mapping) else {})}
                continue
            parts = schema.get("allOf")
            if isinstance(parts, list):
                merged = {k: v for k, v in schema.items() if k != "allOf"}
                for part in parts:
                    merged.update(part if isinstance(part, Mapping) else {})
                schema = merged
                continue
            break
        return schema

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        required = schema.get("required")
        required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        out: dict[str, Any] = {}
        for name, sub in properties.items():
            if name in required or (depth < MAX_DEPTH and self.rng.random() < 0.5):
                out[name] = self.draw(sub, depth + 1)
        extra = schema.get("additionalProperties", True)
        for name in required:
            if name not in out:
                out[name] = self.draw(extra if isinstance(extra, Mapping) else True, depth + 1)
        return out

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        low = schema.get("minItems", 0)
        high = schema.get("maxItems", low + 3 if isinstance(low, int) else 3)
        low = low if isinstance(low, int) else 0
        high = max(low, high if isinstance(high, int) else low + 3)
        if depth >= MAX_DEPTH:
            high = low
        items = schema.get("items", True)
        prefix = schema.get("prefixItems")
        out = [self.draw(sub, depth + 1) for sub in prefix] if isinstance(prefix, list) else []
        while len(out) < self.rng.randint(low, min(high, low + 4)):
            out.append(self.draw(items, depth + 1))
        return out

    def _string(self, schema: Mapping[str, Any]) -> str:
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        text = " ".join(self.rng.choice(VALUE_WORDS) for _ in range(self.rng.randint(1, 3)))
        while isinstance(low, int) and len(text) < low:
            text += " " + self.rng.choice(VALUE_WORDS)
        return text[:high] if isinstance(high, int) else text


def _implied_kind(schema: Mapping[str, Any]) -> str | None:
    if "properties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "minItems" in schema:
        return "array"
    return None


def _number(schema: Mapping[str, Any], rng: random.Random, *, integer: bool) -> int | float:
    low = _bound(schema.get("minimum"), schema.get("exclusiveMinimum"), -100, up=True)
    high = _bound(schema.get("maximum"), schema.get("exclusiveMaximum"), 1000, up=False)
    high = max(high, low)
    step = schema.get("multipleOf")
    if isinstance(step, int | float) and not isinstance(step, bool) and step > 0:
        first, last = int(-(-low // step)), int(high // step)
        value = rng.randint(first, max(first, last)) * step
        return int(value) if integer and float(value).is_integer() else value
    if integer:
        return rng.randint(int(-(-low // 1)), max(int(-(-low // 1)), int(high // 1)))
    return round(rng.uniform(low, high), 3)


def _bound(closed: object, opened: object, default: float, *, up: bool) -> float:
    """The bound of one side (a small step inside an exclusive bound)."""
    if isinstance(opened, int | float) and not isinstance(opened, bool):
        return opened + (0.5 if up else -0.5)
    if isinstance(closed, int | float) and not isinstance(closed, bool):
        return float(closed)
    return default
