"""The non-streamed answer: one JSON object that is a ChatCompletionResponse."""

from __future__ import annotations

from collections.abc import Iterator

from conformance._exchange import Exchange
from conformance._model import Finding, Severity
from conformance.checks._helpers import findings_from, not_json, parse_body, require_success
from conformance.checks._probes import CHAT
from conformance.checks._registry import CheckContext, check


@check(
    area="envelope",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionResponse",
    probes=[CHAT.id],
    any_exchange=True,
)
def response_schema(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The response body is a valid ChatCompletionResponse.

    The body parses as JSON and every violation of the schema (in the profile in force)
    is one finding at its JSON path.
    """
    require_success(exchange)
    payload, why = parse_body(exchange)
    if why is not None:
        yield not_json("the response body", why)
        return
    yield from findings_from(ctx.contract.validator("ChatCompletionResponse").validate(payload))
