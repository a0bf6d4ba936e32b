"""response_format: JSON mode answers a JSON object; a JSON schema is followed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jiter
import jsonschema

from conformance.checks._helpers import clip, request_body
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import _chat
from conformance.checks._probes_again import ask_again
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    NotProvoked,
    Probe,
    check,
    probe,
    properties,
)
from conformance.checks._support import answer, messages, require_served
from conformance.contract._validation import type_name
from conformance.wire._exchange import Exchange, parse_json

RESPONSE_FORMAT = "#/components/schemas/app__models__chat_completion__ResponseFormat"
MAX_TOKENS = 32  # {"ok": true} is about 5 tokens; room for a model that fences or pads it
AGAIN_TOKENS = 96  # asked again with this cap when the first answer was cut (3x the room)
# The prompt says "JSON": OpenAI refuses JSON mode when no message mentions it.
PROMPT = 'Reply with a JSON object whose key "ok" holds true'
# A schema whose every valid instance is a few tokens: a model constrained to it cannot
# ramble past the cap (a string value could), so the answer is judged, not cut.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}


# A second tiny schema, an enum, so that each trial asks for a schema three times: a server
# that drops the schema on some requests only is caught in every run.
SIZE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"size": {"enum": ["small", "large"]}},
    "required": ["size"],
    "additionalProperties": False,
}


def _format(model: str, response_format: dict[str, Any]) -> dict[str, Any]:
    return _chat(
        model,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=MAX_TOKENS,
        response_format=response_format,
    )


def _schema(strict: bool, name: str = "ok", schema: dict[str, Any] = SCHEMA) -> Any:
    def body(model: str) -> dict[str, Any]:
        spec = {"name": name, "schema": schema, "strict": strict}
        return _format(model, {"type": "json_schema", "json_schema": spec})

    return body


JSON_OBJECT = probe(
    Probe(
        "format_json_object",
        'a chat with response_format {"type": "json_object"}',
        lambda model: _format(model, {"type": "json_object"}),
        sampled=True,
    )
)
JSON_SCHEMA_STRICT = probe(
    Probe(
        "format_json_schema_strict",
        "a chat with response_format json_schema (strict: true) asking for one boolean key",
        _schema(strict=True),
        sampled=True,
    )
)
JSON_SCHEMA_LOOSE = probe(
    Probe(
        "format_json_schema",
        "the same json_schema request with strict: false",
        _schema(strict=False),
        sampled=True,
    )
)
JSON_SCHEMA_ENUM = probe(
    Probe(
        "format_json_schema_enum",
        "a chat with response_format json_schema (strict: true) asking for one enum key",
        _schema(strict=True, name="size", schema=SIZE_SCHEMA),
        sampled=True,
    )
)


def _was_cut(exchange: Exchange) -> bool:
    try:
        payload = exchange.json()
    except ValueError:
        return False
    choices = payload.get("choices") if isinstance(payload, dict) else None
    return any(isinstance(c, dict) and c.get("finish_reason") == "length" for c in choices or [])


def _again(first: Probe) -> Probe:
    """``first`` asked again with ``AGAIN_TOKENS`` of room, sent only when its answer was
    cut by the cap (a cut answer may be partial JSON and proves nothing)."""
    [again] = ask_again(
        first, times=1, unprovoked=_was_cut, why="its answer was cut", max_tokens=AGAIN_TOKENS
    )
    return again


JSON_OBJECT_AGAIN = _again(JSON_OBJECT)
JSON_SCHEMA_STRICT_AGAIN = _again(JSON_SCHEMA_STRICT)
JSON_SCHEMA_LOOSE_AGAIN = _again(JSON_SCHEMA_LOOSE)
JSON_SCHEMA_ENUM_AGAIN = _again(JSON_SCHEMA_ENUM)


def _contents(exchange: Exchange, mode: str, feature: str) -> Iterator[tuple[str, object]]:
    """(JSON path, content) of every choice of a served answer; a cut one's as ``Cut``.

    A cut answer is judged only for how it begins: constrained to a JSON object it starts
    with "{"; one that starts otherwise is a finding, one that does is ``Cut`` (it may be
    partial JSON: ``cut_violations`` judges what no ending could mend)."""
    require_served(exchange, feature)
    payload = answer(exchange)
    choices = payload.get("choices")
    for position, message in messages(payload):
        choice = choices[position] if isinstance(choices, list) else {}
        path = f"$.choices[{position}].message.content"
        content = message.get("content")
        if isinstance(choice, dict) and choice.get("finish_reason") == "length":
            begun = content.lstrip() if isinstance(content, str) else ""
            if begun and not begun.startswith("{"):
                yield path, content  # judged as it is: it is no JSON object, cut or not
                continue
            yield path, Cut(begun)
            continue
        yield path, content


@dataclass(frozen=True)
class Cut:
    """The content of an answer cut by max_tokens, which begins a JSON object."""

    text: str


# What a cut JSON prefix breaks whatever follows: a key the schema forbids (keys parsed are
# whole), a value of the wrong type, a whole string or boolean outside an enum or const. A
# missing required key, a short array or a number that may have more digits may yet mend.
MENDLESS = frozenset({"additionalProperties", "type", "enum", "const"})


def cut_violations(schema: dict[str, Any], cut: Cut) -> list[jsonschema.ValidationError]:
    """The schema violations of a cut answer that no ending could mend (its complete parts
    parsed with jiter's partial mode), or [] when it cannot be judged."""
    try:
        parsed = jiter.from_json(cut.text.encode(), partial_mode=True)
    except ValueError:
        return []  # not even a JSON prefix: said of the answer asked again, if it is
    validator = jsonschema.Draft202012Validator(schema)
    return [
        error
        for error in validator.iter_errors(parsed)
        if error.validator in MENDLESS
        and not (
            error.validator in ("enum", "const")
            and isinstance(error.instance, int | float)
            and not isinstance(error.instance, bool)
        )
    ]


def _parse(path: str, content: object, mode: str) -> tuple[Any, Finding | None]:
    if not isinstance(content, str):
        return None, Finding(
            title=f"{mode} answered without string content",
            kind="answered without string content",
            json_path=path,
            expected="a string holding JSON",
            actual=type_name(content),
        )
    try:
        return parse_json(content), None
    except ValueError as exc:
        return None, Finding(
            title=f"{mode} content is not JSON",
            kind="content is not JSON",
            json_path=path,
            expected="a JSON object",
            actual=f"{clip(content, 120)!r} ({exc})",
        )


@check(
    area="response_format",
    severity=Severity.MUST,
    spec=f"{RESPONSE_FORMAT}/properties/type",
    probes=[JSON_OBJECT.id, JSON_OBJECT_AGAIN.id],
    covers=[
        *properties("ChatCompletionRequest", "response_format"),
        *properties("ChatCompletionResponseMessage", "content"),
    ],
    fix=(
        "With response_format json_object, answer content that parses as a JSON object. "
        "Usual cause: response_format not passed to constrained decoding, so the model "
        "writes prose."
    ),
)
def json_object_content(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """JSON mode (json_object) answers content that parses as a JSON object.

    With ``response_format: {"type": "json_object"}`` a client parses the content
    directly; text around the object, or an array, breaks it. An answer cut by the cap
    is asked again with more room; cut again, it is "not provoked" unless what came does
    not even begin a JSON object.
    """
    for path, content in _contents(exchange, "JSON mode", "response_format json_object"):
        if isinstance(content, Cut):
            raise NotProvoked("the answer was cut by max_tokens, so it may be partial JSON")
        parsed, problem = _parse(path, content, "JSON mode")
        if problem is not None:
            yield problem
        elif not isinstance(parsed, dict):
            yield Finding(
                title="JSON mode content is JSON but not an object",
                json_path=path,
                expected="a JSON object",
                actual=type_name(parsed),
            )


@check(
    area="response_format",
    severity=Severity.MUST,
    spec="#/components/schemas/JsonSchemaResponseFormat/properties/schema",
    probes=[
        JSON_SCHEMA_STRICT.id,
        JSON_SCHEMA_LOOSE.id,
        JSON_SCHEMA_ENUM.id,
        JSON_SCHEMA_STRICT_AGAIN.id,
        JSON_SCHEMA_LOOSE_AGAIN.id,
        JSON_SCHEMA_ENUM_AGAIN.id,
    ],
    covers=[*properties("ChatCompletionRequest", "response_format")],
    fix=(
        "With response_format json_schema, answer content that validates against the given "
        "schema. Usual cause: the schema only put in the prompt, not enforced while "
        "decoding."
    ),
)
def json_schema_content(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """json_schema content parses and validates against the given schema.

    Judged with ``strict`` true and false: the request's own schema (data, not the
    contract) is what the content must validate against. Only ``strict: true`` guarantees
    it: without it, content that parses but breaks the schema weighs as a SHOULD. An
    answer cut by the cap is judged for what no ending could mend (a key the schema
    forbids, a whole value of the wrong type or outside an enum), else "not provoked".
    """
    body = request_body(exchange, ctx)
    schema = _requested_schema(body)
    strict = _strict(body)
    for path, content in _contents(exchange, "json_schema", "response_format json_schema"):
        shown = content
        if isinstance(content, Cut):
            errors = cut_violations(schema, content)
            if not errors:
                raise NotProvoked("the answer was cut by max_tokens, so it may be partial JSON")
            shown = content.text
        else:
            parsed, problem = _parse(path, content, "json_schema")
            if problem is not None:
                yield problem
                continue
            errors = list(jsonschema.Draft202012Validator(schema).iter_errors(parsed))
        for error in sorted(errors, key=lambda e: list(e.path)):
            yield Finding(
                should=not strict,
                title=f"json_schema content breaks the requested schema (`{error.validator}`)",
                kind="content breaks the requested schema",
                json_path=path,
                expected=f"valid against {json.dumps(error.schema)[:120]}",
                actual=f"{error.message} in {clip(str(shown), 120)!r}",
            )


def _strict(body: object) -> bool:
    fmt = body.get("response_format") if isinstance(body, dict) else None
    spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
    return isinstance(spec, dict) and spec.get("strict") is True


def _requested_schema(body: object) -> dict[str, Any]:
    fmt = body.get("response_format") if isinstance(body, dict) else None
    spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise NotApplicable("the request carries no json_schema schema")
    return schema
