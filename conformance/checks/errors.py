"""Bad requests: refused with a 4xx, and explained in a JSON body a client can read."""

from __future__ import annotations

from collections.abc import Iterator

from conformance._exchange import Exchange
from conformance._model import Finding, Severity
from conformance._validation import type_name
from conformance.checks._helpers import (
    broken_rule,
    describe_rule,
    findings_from,
    not_json,
    parse_body,
)
from conformance.checks._probes import INVALID, NO_KEY, WRONG_KEY
from conformance.checks._registry import CheckContext, NotApplicable, check

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
    probes=list(INVALID),
    any_exchange=True,
)
def invalid_request_rejected(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A schema-invalid request is rejected with a 4xx status.

    Each probe breaks one rule of ChatCompletionRequest; the rule is read from the
    contract, and the finding's JSON path and schema path locate it in the request.
    """
    rule = broken_rule(exchange, ctx)
    status = exchange.status
    if status is not None and 400 <= status < 500:
        return
    if status is not None and 200 <= status < 300:
        what = "schema-invalid request accepted"
    elif status is not None and status >= 500:
        what = "schema-invalid request caused a server error"
    else:
        what = f"schema-invalid request answered with {status}"
    yield Finding(
        title=f"{what} ({rule.summary})",
        json_path=rule.json_path,
        expected=f"a 4xx status: the request breaks {describe_rule(rule)}",
        actual=status,
        schema_path=rule.schema_path,
    )


@check(
    area="errors",
    severity=Severity.SHOULD,
    spec="#/components/schemas/HTTPValidationError",
    probes=[*INVALID, NO_KEY.id, WRONG_KEY.id],
    any_exchange=True,
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
