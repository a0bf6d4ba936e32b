"""Bad requests: refused with a 4xx, and explained in a JSON body a client can read."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from conformance.checks._helpers import (
    broken_rule,
    clip,
    describe_rule,
    findings_from,
    not_json,
    parse_body,
)
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import INVALID, MAX_TOKENS, NO_KEY, WRONG_KEY, _chat
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    Probe,
    check,
    probe,
    properties,
)
from conformance.checks._support import refusal_evidence, refused
from conformance.contract._validation import type_name
from conformance.wire._exchange import Exchange

UNKNOWN_MODEL = "conformance-no-such-model-7f3a"


def _n_129(model: str) -> dict[str, Any]:
    return _chat(model, n=129)


def _max_tokens_string(model: str) -> dict[str, Any]:
    return _chat(model, max_tokens=str(MAX_TOKENS))


def _plain_after(model: str) -> dict[str, Any]:
    return _chat(model)


MORE_INVALID: tuple[str, ...] = tuple(
    probe(Probe(probe_id, description, body)).id
    for probe_id, description, body in (
        ("invalid_n_129", "the plain chat asking for n: 129 choices (above 128)", _n_129),
        (
            "invalid_max_tokens_type",
            'the plain chat with max_tokens as a string ("8")',
            _max_tokens_string,
        ),
    )
)
UNKNOWN_MODEL_PROBE = probe(
    Probe(
        "unknown_model",
        f"the plain chat for a model that does not exist ({UNKNOWN_MODEL!r})",
        lambda model: _chat(UNKNOWN_MODEL),
    )
)
AFTER_INVALID = probe(
    Probe(
        "chat_after_invalid",
        "the plain chat, sent after every invalid request has been answered",
        _plain_after,
        after=(*INVALID, *MORE_INVALID, UNKNOWN_MODEL_PROBE.id),
        alone=True,  # the invalid requests, then this one, with no other request between
    )
)
REFUSED = (*INVALID, *MORE_INVALID)
# Invalid values a lenient (pydantic-style) server coerces and serves: "8" read as 8, a
# custom role. Served, they weigh as a SHOULD; a 5xx on them is still a MUST.
COERCIBLE = ("invalid_max_tokens_type", "invalid_role")

# A valid body cut short (no closing quote, brackets or braces): what a client that crashed
# mid-write or a proxy that cut the connection sends. Fixed bytes: no model is needed.
_TRUNCATED = json.dumps(_chat("conformance-model")).encode("utf-8")[:40]
NOT_JSON: tuple[str, ...] = tuple(
    probe(Probe(probe_id, description, _plain_after, content=content, headers=headers)).id
    for probe_id, description, content, headers in (
        ("body_truncated", f"a JSON body cut short ({_TRUNCATED.decode()!r})", _TRUNCATED, {}),
        ("body_bare_word", "a body that is one bare word (hello), labelled JSON", b"hello", {}),
        (
            "body_text_plain",
            "the plain chat sent with Content-Type: text/plain",
            None,
            {"Content-Type": "text/plain"},
        ),
        ("body_empty", "an empty body labelled JSON", b"", {}),
    )
)
AFTER_NOT_JSON = probe(
    Probe(
        "chat_after_not_json",
        "the plain chat, sent after every request whose body is not JSON has been answered",
        _plain_after,
        after=NOT_JSON,
    )
)

ENVELOPE = "OpenAI error envelope"
VALIDATION_ERROR = "HTTPValidationError"
KNOWN_SHAPES = (ENVELOPE, VALIDATION_ERROR)
EXPECTED_SHAPES = (
    'an OpenAI error envelope {"error": {"message": "...", ...}} '
    'or HTTPValidationError {"detail": [...]}'
)


@check(
    area="errors",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionRequest",
    probes=list(REFUSED),
    any_exchange=True,
    covers=[*properties("ChatCompletionRequest", "messages")],
    fix=(
        "Refuse a request that breaks the document (wrong type, out of range) with a 4xx "
        "and a JSON error. Usual cause: no validation in front of the engine, so the bad "
        "value reaches it and it fails with a 500."
    ),
)
def invalid_request_rejected(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A schema-invalid request is rejected with a 4xx status.

    Each probe breaks one rule of ChatCompletionRequest; the rule is read from the
    contract, and the finding's JSON path and schema path locate it in the request. A
    coercible value served (max_tokens "8", a custom role: what pydantic-based servers
    accept) weighs as a SHOULD; any 5xx is a MUST.
    """
    rule = broken_rule(exchange, ctx)
    status = exchange.status
    if status is not None and 400 <= status < 500:
        return
    lenient = status is not None and 200 <= status < 300 and ctx.probe.id in COERCIBLE
    if status is not None and 200 <= status < 300:
        what = kind = "schema-invalid request accepted"
    elif status is not None and status >= 500:
        what = kind = "schema-invalid request caused a server error"
    else:
        what, kind = f"schema-invalid request answered with {status}", "not a 4xx"
    yield Finding(
        title=f"{what} ({rule.summary})",
        kind=kind,
        json_path=rule.json_path,
        expected=f"a 4xx status: the request breaks {describe_rule(rule)}",
        actual=status,
        schema_path=rule.schema_path,
        should=lenient,
    )


@check(
    area="errors",
    severity=Severity.SHOULD,
    spec="#/components/schemas/HTTPValidationError",
    probes=[*REFUSED, UNKNOWN_MODEL_PROBE.id, NO_KEY.id, WRONG_KEY.id],
    any_exchange=True,
    fix=(
        'Explain every 4xx in a JSON body {"error": {"message": ..., "type": ..., "code": '
        "...}}. Usual cause: a framework's default HTML or plain-text error page."
    ),
)
def error_body_shape(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A 4xx answer explains itself in a JSON error body of a known shape.

    A 422 body validates against HTTPValidationError, the only error the document
    declares; any other 4xx body is an OpenAI-style ``{"error": {"message": ...}}``
    envelope or an HTTPValidationError. The finding names the shape found.
    """
    status = exchange.status
    if status is None or not 400 <= status < 500:
        raise NotApplicable(f"the request was answered with status {status}, not a 4xx error")
    payload, why = parse_body(exchange)
    if why is not None:
        yield not_json(f"the {status} error body", why)
        return
    validator = ctx.contract.validator("HTTPValidationError")
    if status == 422:
        yield from findings_from(validator.validate(payload))
        return
    shape = _shape(payload, ctx)
    if shape not in KNOWN_SHAPES:
        yield Finding(
            title=f"the {status} error body is neither an OpenAI error envelope "
            "nor HTTPValidationError",
            kind="error body of no known shape",
            expected=EXPECTED_SHAPES,
            actual=shape,
            schema_path=validator.pointer,
        )


def _shape(payload: object, ctx: CheckContext) -> str:
    """Name the shape of an error body: one of ``KNOWN_SHAPES``, or a description."""
    if not isinstance(payload, dict):
        return f"a JSON {type_name(payload)}"
    if "error" in payload:
        return _error_shape(payload["error"])
    if "detail" in payload:
        violations = ctx.contract.validator("HTTPValidationError").validate(payload)
        if not violations:
            return VALIDATION_ERROR
        return (
            f'{{"detail": <{type_name(payload["detail"])}>}}, which is not HTTPValidationError '
            f"({describe_rule(violations[0])})"
        )
    keys = sorted(payload)
    return f"an object with keys {keys[:10]}" if keys else "an empty object"


def _error_shape(error: object) -> str:
    if not isinstance(error, dict):
        return f'{{"error": <{type_name(error)}>}}'
    if isinstance(error.get("message"), str):
        return ENVELOPE
    return '{"error": {...}} without a string "message"'


@check(
    area="errors",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionRequest/properties/model",
    probes=[UNKNOWN_MODEL_PROBE.id],
    fix=(
        "Refuse an unknown model with a 4xx other than 401, 403 and 429 (OpenAI: 404 "
        "model_not_found). Usual cause: the model field ignored and a default model served, "
        "or a 500."
    ),
)
def unknown_model_rejected(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A request for an unknown model is refused with a 4xx other than 401/403/429.

    Serving another model silently bills and answers for something not asked for; 401 or
    403 tells the client its key is wrong and 429 to retry, neither of which helps.
    """
    status = exchange.status
    if status is not None and 400 <= status < 500 and status not in (401, 403, 429):
        return
    if exchange.ok:
        title = kind = "a request for an unknown model was served"
    elif status in (401, 403):
        title = f"a request for an unknown model was answered {status}, as if the key were wrong"
        kind = "refused as if the key were wrong"
    elif status is not None and status >= 500:
        title = kind = "a request for an unknown model caused a server error"
    else:
        title, kind = f"a request for an unknown model was answered {status}", "not a 4xx"
    yield Finding(
        title=title,
        kind=kind,
        json_path="$.model",
        expected="a 4xx status other than 401, 403 and 429 (404 as OpenAI)",
        actual=refusal_evidence(exchange, clipped=False),
    )


@check(
    area="errors",
    severity=Severity.MUST,
    spec="#/paths/~1v1~1chat~1completions/post/responses/200",
    probes=[AFTER_INVALID.id],
    fix=(
        "Serve a valid request right after invalid ones. Usual cause: a worker left in a "
        "bad state after a validation error."
    ),
)
def recovers_after_invalid(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A valid request right after invalid ones is served.

    Sent only once every invalid request and the unknown model have been answered: a
    bad request must not leave the endpoint broken for the next client. Served means a
    2xx answer whose JSON carries a message (its schema and media type are judged by
    response_schema and json_content_type).
    """
    what = f"a valid request sent after {len(ctx.probe.after)} refused requests"
    if not exchange.ok:
        yield from refused(exchange, what)
        return
    payload, _ = parse_body(exchange)
    if not isinstance(payload, dict):
        return  # not a JSON object: json_content_type and response_schema say why
    choices = payload.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(first, dict) or not isinstance(first.get("message"), dict):
        yield Finding(
            title=f"{what} was answered without a message",
            kind="answered without a message",
            json_path="$.choices[0].message",
            expected="a choice with a message",
            actual=clip(exchange.text()),
        )


@check(
    area="errors",
    severity=Severity.MUST,
    spec="#/paths/~1v1~1chat~1completions/post/requestBody",
    probes=[*NOT_JSON, AFTER_NOT_JSON.id],
    fix=(
        "Refuse a body that is not JSON (or not labelled JSON) with a 4xx and a JSON error "
        "body. Usual cause: the JSON parser's exception not caught, which becomes a 500."
    ),
)
def non_json_body_rejected(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A request body that is not JSON is refused with a 4xx and a JSON error body.

    The operation takes one ``application/json`` body: a truncated one, a bare word, a
    body labelled ``text/plain`` and an empty one are the client's mistakes, to be
    refused with a 4xx (never a 5xx) whose JSON body says why. The plain chat sent once
    they are all answered must then be served: a bad body must not break the endpoint.
    """
    if ctx.probe.id == AFTER_NOT_JSON.id:
        yield from refused(exchange, f"a valid request sent after {len(NOT_JSON)} non-JSON bodies")
        return
    status = exchange.status
    what = ctx.probe.description
    if status is None or not 400 <= status < 500:
        if status is not None and 200 <= status < 300:
            title = "a request body that is not JSON was served"
        elif status is not None and status >= 500:
            title = "a request body that is not JSON caused a server error"
        else:
            title = f"a request body that is not JSON was answered with {status}"
        yield Finding(
            title=title,
            kind="a request body that is not JSON was not refused with a 4xx",
            expected=f"a 4xx status with a JSON error body for {what}",
            actual=refusal_evidence(exchange),
        )
        return
    payload, why = parse_body(exchange)
    if why is not None or not isinstance(payload, dict):
        yield Finding(
            title=f"the {status} refusal of a body that is not JSON has no JSON error body",
            kind="the refusal of a body that is not JSON has no JSON error body",
            expected=EXPECTED_SHAPES,
            actual=why if why is not None else clip(exchange.text()),
        )
