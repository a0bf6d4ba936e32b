"""Every request parameter and every response field of the document is covered by a check
(``@check(covers=...)``, which includes its ``spec`` pointer), found by walking the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance import Contract
from conformance.checks import registered_checks

SCHEMAS = "#/components/schemas/"
OPERATION = "#/paths/~1v1~1chat~1completions/post"
SCHEMA_CHECKS = ("response_schema", "chunk_schema")

# Response fields judged by the schema checks alone (their type, enum and presence are all
# the document says of them). Reviewed: each is named here, not covered by an ancestor.
JUDGED_BY_SCHEMA_ALONE = {
    f"{SCHEMAS}ChatCompletionResponse/properties/{name}"
    for name in ("id", "object", "created", "model", "service_tier")
} | {
    f"{SCHEMAS}ChatCompletionChunk/properties/system_fingerprint",
}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"].removeprefix(SCHEMAS)
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def response_fields(document: dict[str, Any]) -> list[str]:
    """Pointers to every property of the schemas a response or chunk reaches."""
    schemas = document["components"]["schemas"]
    seen: list[str] = []
    todo = ["ChatCompletionResponse", "ChatCompletionChunk"]
    while todo:
        name = todo.pop(0)
        if name not in seen:
            seen.append(name)
            todo.extend(_refs(schemas[name]))
    return [
        f"{SCHEMAS}{name}/properties/{prop}"
        for name in seen
        for prop in schemas[name].get("properties", {})
    ]


def request_parameters(document: dict[str, Any]) -> list[str]:
    """Pointers to every property of ChatCompletionRequest and every operation parameter."""
    request = document["components"]["schemas"]["ChatCompletionRequest"]["properties"]
    operation = document["paths"]["/v1/chat/completions"]["post"]
    return [
        *(f"{SCHEMAS}ChatCompletionRequest/properties/{name}" for name in request),
        *(f"{OPERATION}/parameters/{i}" for i, _ in enumerate(operation.get("parameters", []))),
    ]


def _document() -> dict[str, Any]:
    return Contract.load().document


def test_every_request_parameter_is_sent_or_judged_by_a_check_naming_it():
    document = _document()
    named = {pointer for c in registered_checks() for pointer in c.covers}
    missing = [p for p in request_parameters(document) if p not in named]
    assert missing == []
    # the walk is not vacuous: the parameters the issue names are in it
    assert f"{OPERATION}/parameters/0" in request_parameters(document)
    assert len(request_parameters(document)) == 24


def test_every_response_field_is_judged_by_a_check():
    document = _document()
    judging = [c for c in registered_checks() if c.id not in SCHEMA_CHECKS]

    def covered(field: str) -> bool:
        return any(
            field == pointer or field.startswith(pointer + "/")
            for c in judging
            for pointer in c.covers
        )

    fields = response_fields(document)
    assert [f for f in fields if not covered(f) and f not in JUDGED_BY_SCHEMA_ALONE] == []
    assert sorted(JUDGED_BY_SCHEMA_ALONE - set(fields)) == []  # the list names real fields
    assert len(fields) == 47


def test_the_schema_checks_judge_the_whole_response_and_chunk():
    specs = {c.id: c.spec for c in registered_checks() if c.id in SCHEMA_CHECKS}
    assert specs == {
        "response_schema": f"{SCHEMAS}ChatCompletionResponse",
        "chunk_schema": f"{SCHEMAS}ChatCompletionChunk",
    }


def test_every_covered_pointer_resolves_in_the_document():
    document = _document()

    def resolve(pointer: str) -> object:
        node: Any = document
        for raw in pointer.removeprefix("#/").split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    for check in registered_checks():
        for pointer in check.covers:
            assert resolve(pointer) is not None, (check.id, pointer)


def test_covers_starts_with_the_spec_pointer_and_has_no_repeats():
    for check in registered_checks():
        assert check.covers[0] == check.spec
        assert len(set(check.covers)) == len(check.covers)
