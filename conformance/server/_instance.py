"""Build a small instance that a JSON schema accepts: tool-call arguments and JSON answers.

Deterministic and deliberately modest: an object gets its required properties (and enough
optional ones for ``minProperties``), an array ``minItems`` items, a string words up to
``minLength`` (cut to ``maxLength``), a number the value nearest 0 within its bounds and
``multipleOf``; ``const``/``enum`` give their (first) value, ``anyOf``/``oneOf`` their first
branch, ``allOf`` the merge of its branches, local ``$ref`` is followed. ``pattern``,
``not``, ``if``/``then``/``else`` and the like are not understood; an instance for a schema
that needs them may not validate.
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeGuard

from conformance.contract._validation import resolve_pointer

MAX_DEPTH = 40  # a recursive schema that requires itself has no finite instance

_FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "email": "someone@example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uri": "https://example.com/",
    "uri-reference": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_OBJECT_WORDS = ("properties", "required", "additionalProperties", "minProperties")
_ARRAY_WORDS = ("items", "prefixItems", "minItems", "maxItems", "contains", "uniqueItems")
_STRING_WORDS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_WORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")


def word_source(words: Sequence[str], start: int = 0) -> Callable[[], str]:
    """Words from ``words`` in turn from ``start``, never the same twice (a suffix after a lap)."""
    if not words:
        raise ValueError("word_source needs at least one word; got an empty sequence.")
    counter: Iterator[int] = itertools.count()

    def next_word() -> str:
        k = next(counter)
        lap, at = divmod(start + k, len(words))
        return words[at] if lap == 0 else f"{words[at]}{lap + 1}"

    return next_word


def minimal_instance(
    schema: Mapping[str, Any] | bool,
    *,
    words: Callable[[], str] | None = None,
    root: Mapping[str, Any] | None = None,
) -> object:
    """A small value valid against ``schema``; ``$ref``\\s resolve against ``root`` or ``schema``.

    ``words`` supplies string content, one word per call (default: alpha, beta, ...).
    """
    source = words or word_source(("alpha", "beta", "gamma", "delta", "epsilon"))
    base: Mapping[str, Any] = (
        root if root is not None else (schema if isinstance(schema, Mapping) else {})
    )
    return _Builder(base, source).build(schema, 0, 0)


class _Builder:
    def __init__(self, root: Mapping[str, Any], words: Callable[[], str]) -> None:
        self._root = root
        self._words = words

    def build(self, schema: object, variant: int, depth: int) -> object:
        if schema is True or not isinstance(schema, Mapping):
            return {}  # anything is valid; an object is as good as any
        if depth > MAX_DEPTH:
            return None
        flat = self._flatten(schema)
        kind = _kind(flat)
        if kind == "object":
            return self._object(flat, depth)
        if kind == "array":
            return self._array(flat, depth)
        return self._scalar(kind, flat, variant)

    def _scalar(self, kind: str | None, schema: Mapping[str, Any], variant: int) -> object:
        if kind == "const":
            return copy.deepcopy(schema["const"])
        if kind == "enum":
            return copy.deepcopy(schema["enum"][variant % len(schema["enum"])])
        if kind == "string":
            return self._string(schema)
        if kind in ("integer", "number"):
            return _number(schema, variant, integer=kind == "integer")
        if kind == "boolean":
            return variant % 2 == 1
        return None if kind == "null" else {}

    def _flatten(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        """Resolve ``$ref``, merge ``allOf`` and pick the first ``anyOf``/``oneOf`` branch."""
        out = dict(schema)
        for _ in range(MAX_DEPTH):
            if "$ref" in out:
                target = self._resolve(out.pop("$ref"))
                out = _merge(target, out)
            elif "allOf" in out:
                branches = out.pop("allOf")
                for branch in branches if isinstance(branches, list) else []:
                    if isinstance(branch, Mapping):
                        out = _merge(out, branch)
            elif "anyOf" in out or "oneOf" in out:
                branches = out.pop("anyOf", None) or out.pop("oneOf", None) or []
                out.pop("oneOf", None)
                first = branches[0] if isinstance(branches, list) and branches else {}
                out = _merge(out, first if isinstance(first, Mapping) else {})
            else:
                break
        return out

    def _resolve(self, ref: object) -> Mapping[str, Any]:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return {}  # remote references are not fetched
        try:
            node = resolve_pointer(self._root, ref)
        except LookupError:
            return {}
        return node if isinstance(node, Mapping) else {}

    def _object(self, schema: Mapping[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties")
        properties = properties if isinstance(properties, Mapping) else {}
        extra = schema.get("additionalProperties", True)
        out: dict[str, Any] = {}
        required = schema.get("required")
        for name in required if isinstance(required, list) else []:
            sub = properties.get(name, extra if isinstance(extra, Mapping) else True)
            out[str(name)] = self.build(sub, 0, depth + 1)
        wanted = schema.get("minProperties", 0)
        for name, sub in properties.items():
            if not isinstance(wanted, int) or len(out) >= wanted:
                break
            out.setdefault(name, self.build(sub, 0, depth + 1))
        n = 0
        while isinstance(wanted, int) and len(out) < wanted and extra is not False:
            n += 1
            out.setdefault(f"key{n}", self.build(extra, n, depth + 1))
        return out

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        out: list[Any] = []
        prefix = schema.get("prefixItems")
        for sub in prefix if isinstance(prefix, list) else []:
            out.append(self.build(sub, len(out), depth + 1))
        contains = schema.get("contains")
        if isinstance(contains, Mapping | bool):
            out.append(self.build(contains, len(out), depth + 1))
        items = schema.get("items", True)
        wanted = schema.get("minItems", 0)
        while isinstance(wanted, int) and len(out) < wanted and items is not False:
            out.append(self.build(items, len(out), depth + 1))
        return out

    def _string(self, schema: Mapping[str, Any]) -> str:
        formatted = _FORMATS.get(str(schema.get("format")))
        if formatted is not None:
            return formatted  # padding would break the format
        text = self._words()
        minimum = schema.get("minLength", 0)
        while isinstance(minimum, int) and len(text) < minimum:
            text += " " + self._words()
        maximum = schema.get("maxLength")
        return text[:maximum] if isinstance(maximum, int) else text


def _kind(schema: Mapping[str, Any]) -> str | None:
    """The kind of instance to build: a JSON type, or "const"/"enum" for a listed value."""
    if "const" in schema:
        return "const"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "enum"
    declared = schema.get("type")
    if isinstance(declared, str):
        return declared
    if isinstance(declared, list) and declared:
        return next((t for t in declared if t != "null"), "null")
    for kind, words in (
        ("object", _OBJECT_WORDS),
        ("array", _ARRAY_WORDS),
        ("string", _STRING_WORDS),
        ("number", _NUMBER_WORDS),
    ):
        if any(word in schema for word in words):
            return kind
    return None


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Both schemas' constraints in one: ``required`` and ``properties`` unite, others override."""
    out = dict(base)
    for key, value in extra.items():
        if key == "required" and isinstance(out.get(key), list) and isinstance(value, list):
            out[key] = [*out[key], *(v for v in value if v not in out[key])]
        elif (
            key == "properties" and isinstance(out.get(key), Mapping) and isinstance(value, Mapping)
        ):
            merged = dict(out[key])
            for name, sub in value.items():
                merged[name] = {"allOf": [merged[name], sub]} if name in merged else sub
            out[key] = merged
        else:
            out[key] = value
    return out


def _number(schema: Mapping[str, Any], variant: int, *, integer: bool) -> int | float:
    low, low_open = _bound(schema, "minimum", "exclusiveMinimum", max)
    high, high_open = _bound(schema, "maximum", "exclusiveMaximum", min)
    given = schema.get("multipleOf")
    step: int | float | None = given if _is_number(given) and given > 0 else None

    def fits(value: float) -> bool:
        above = low is None or value > low or (value == low and not low_open)
        below = high is None or value < high or (value == high and not high_open)
        return above and below

    if step is None and integer:
        step = 1
    if step is not None:
        # Multiples of the step, nearest 0 first within the bounds; `variant` picks a later one.
        start = 0 if low is None else math.floor(low / step)
        if high is not None and low is None:
            start = min(0, math.floor(high / step))
        found = 0
        nearby = itertools.chain(range(start, start + 10_000), range(start - 1, start - 10_000, -1))
        for k in nearby:
            value: int | float = k * step
            if integer and isinstance(value, float):
                if not value.is_integer():
                    continue
                value = int(value)
            if fits(value) and (value / step) == int(value / step):
                if found == variant:
                    return value
                found += 1
        return 0  # no multiple within reach: the schema is unsatisfiable or very sparse
    # A real number: 0 when allowed, else a bound, else the middle of an open interval.
    candidates = [0.0 + variant, low if low is not None else 0.0, high if high is not None else 0.0]
    if low is not None:
        candidates.append(low + 1 + variant)
    if high is not None:
        candidates.append(high - 1 - variant)
    if low is not None and high is not None:
        candidates.append((low + high) / 2)
    return next((float(c) for c in candidates if fits(c)), float(low if low is not None else 0))


def _bound(
    schema: Mapping[str, Any], closed: str, open_: str, tighter: Callable[[float, float], float]
) -> tuple[float | None, bool]:
    """The tightest bound of one side: its value and whether it is exclusive."""
    given_closed, given_open = schema.get(closed), schema.get(open_)
    inclusive = given_closed if _is_number(given_closed) else None
    exclusive = given_open if _is_number(given_open) else None
    if inclusive is None:
        return exclusive, exclusive is not None
    if exclusive is None:
        return inclusive, False
    best = tighter(inclusive, exclusive)
    return best, best == exclusive  # on a tie the exclusive bound is the tighter one


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
