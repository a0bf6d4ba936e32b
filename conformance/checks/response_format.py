"""response_format: JSON mode answers a JSON object; a JSON schema is followed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema

from conformance._exchange import Exchange
from conformance._model import Finding, Severity
from conformance._validation import type_name
from conformance.checks._helpers import clip, request_body
from conformance.checks._probes import _chat
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    Probe,
    check,
    probe,
    properties,
)
from conformance.checks._support import answer, messages, require_served

RESPONSE_FORMAT = "#/components/schemas/app__models__chat_completion__ResponseFormat"
MAX_TOKENS = 32  # {"word": "ok"} is about 6 tokens; room for a model that pads it
# The prompt says "JSON": OpenAI refuses JSON mode when no message mentions it.
PROMPT = 'Reply with a JSON object whose key "word" holds the single word: ok'
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"word": {"type": "string"}},
    "required": ["word"],
    "additionalProperties": False,
}


def _format(model: str, response_format: dict[str, Any]) -> dict[str, Any]:
    return _chat(
        model,
        messages=[{"role": "user", "content": PROMPT}],
        max_tokens=MAX_TOKENS,
        response_format=response_format,
    )


def _schema(strict: bool) -> Any:
    def body(model: str) -> dict[str, Any]:
        spec = {"name": "word", "schema": SCHEMA, "strict": strict}
        return _format(model, {"type": "json_schema", "json_schema": spec})

    return body


JSON_OBJECT = probe(
    Probe(
        "format_json_object",
        'a chat with response_format {"type": "json_object"}',
        lambda model: _format(model, {"type": "json_object"}),
    )
)
JSON_SCHEMA_STRICT = probe(
    Probe(
        "format_json_schema_strict",
        "a chat with response_format json_schema (strict: true) asking for one string key",
        _schema(strict=True),
    )
)
JSON_SCHEMA_LOOSE = probe(
    Probe(
        "format_json_schema",
        "the same json_schema request with strict: false",
        _schema(strict=False),
    )
)


def _contents(exchange: Exchange, feature: str) -> Iterator[tuple[str, object]]:
    """(JSON path, content) of every choice of a served answer not cut by max_tokens."""
    require_served(exchange, feature)
    payload = answer(exchange)
    choices = payload.get("choices")
    for position, message in messages(payload):
        choice = choices[position] if isinstance(choices, list) else {}
        if isinstance(choice, dict) and choice.get("finish_reason") == "length":
            raise NotApplicable("the answer was cut by max_tokens, so it may be partial JSON")
        yield f"$.choices[{position}].message.content", message.get("content")


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
        return json.loads(content), None
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
    probes=[JSON_OBJECT.id],
    covers=[
        *properties("ChatCompletionRequest", "response_format"),
        *properties("ChatCompletionResponseMessage", "content"),
    ],
)
def json_object_content(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """JSON mode (json_object) answers content that parses as a JSON object.

    With ``response_format: {"type": "json_object"}`` a client parses the content
    directly; text around the object, or an array, breaks it.
    """
    for path, content in _contents(exchange, "response_format json_object"):
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
    probes=[JSON_SCHEMA_STRICT.id, JSON_SCHEMA_LOOSE.id],
    covers=[*properties("ChatCompletionRequest", "response_format")],
)
def json_schema_content(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """json_schema content parses and validates against the given schema.

    Judged with ``strict`` true and false: the request's own schema (data, not the
    contract) is what the content must validate against.
    """
    body = request_body(exchange, ctx)
    schema = _requested_schema(body)
    for path, content in _contents(exchange, "response_format json_schema"):
        parsed, problem = _parse(path, content, "json_schema")
        if problem is not None:
            yield problem
            continue
        validator = jsonschema.Draft202012Validator(schema)
        for error in sorted(validator.iter_errors(parsed), key=lambda e: list(e.path)):
            yield Finding(
                title=f"json_schema content breaks the requested schema (`{error.validator}`)",
                kind="content breaks the requested schema",
                json_path=path,
                expected=f"valid against {json.dumps(error.schema)[:120]}",
                actual=f"{error.message} in {clip(str(content), 120)!r}",
            )


def _requested_schema(body: object) -> dict[str, Any]:
    fmt = body.get("response_format") if isinstance(body, dict) else None
    spec = fmt.get("json_schema") if isinstance(fmt, dict) else None
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict):
        raise NotApplicable("the request carries no json_schema schema")
    return schema
