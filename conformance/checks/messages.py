"""Messages: every role, both content forms, names and fields the endpoint does not know."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.checks._model import Finding, Severity
from conformance.checks._probes import PROMPT, _chat
from conformance.checks._registry import (
    CheckContext,
    NotApplicable,
    Probe,
    check,
    probe,
    properties,
)
from conformance.checks._support import refusal_evidence, refused
from conformance.wire._exchange import Exchange

MESSAGE = "#/components/schemas/ChatCompletionMessage"
UNKNOWN_FIELD = "x_conformance_unknown"


def _roles(model: str) -> dict[str, Any]:
    return _chat(
        model,
        messages=[
            {"role": "system", "content": "You answer with one word."},
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": PROMPT},
        ],
    )


def _name(model: str) -> dict[str, Any]:
    return _chat(model, messages=[{"role": "user", "content": PROMPT, "name": "conformance"}])


def _parts(model: str) -> dict[str, Any]:
    parts = [
        {"type": "text", "text": "Reply with the single word:"},
        {"type": "text", "text": "ok"},
    ]
    return _chat(model, messages=[{"role": "user", "content": parts}])


def _unknown(model: str) -> dict[str, Any]:
    body = _chat(model, messages=[{"role": "user", "content": PROMPT, UNKNOWN_FIELD: True}])
    body[UNKNOWN_FIELD] = {"note": "a field this endpoint does not know"}
    return body


ROLES = probe(
    Probe("messages_roles", "a conversation of system, user, assistant and user messages", _roles)
)
NAME = probe(Probe("messages_name", 'a user message with a participant "name"', _name))
PARTS = probe(
    Probe("messages_content_parts", "a user message whose content is two text parts", _parts)
)
UNKNOWN = probe(
    Probe(
        "messages_unknown_fields",
        f"the plain chat with an unknown field {UNKNOWN_FIELD!r} on the request and its message",
        _unknown,
    )
)


@check(
    area="messages",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatMessageRole",
    probes=[ROLES.id],
    covers=[*properties("ChatCompletionRequest", "messages")],
    fix=(
        "Accept system, user and assistant messages in one conversation. Usual cause: a "
        "chat template that refuses a system role or non-alternating turns."
    ),
)
def message_roles_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """System, user and assistant messages in one conversation are accepted.

    Every role of ChatMessageRole may appear (the tool role is judged with tool calls);
    a conversation history is how every client sends context.
    """
    yield from refused(exchange, "a system, user and assistant conversation", path="$.messages")


@check(
    area="messages",
    severity=Severity.MUST,
    spec=f"{MESSAGE}/properties/content",
    probes=[PARTS.id],
    fix=(
        'Accept content given as an array of {"type": "text"} parts. Usual cause: a '
        "validator that only takes a string."
    ),
)
def message_content_parts_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Message content given as an array of text parts is accepted.

    Content is a string or a list of parts; SDKs and frameworks send text parts even for
    plain text.
    """
    yield from refused(exchange, "content as an array of text parts", path="$.messages[0].content")


@check(
    area="messages",
    severity=Severity.MUST,
    spec=f"{MESSAGE}/properties/name",
    probes=[NAME.id],
    fix=(
        "Accept a message's name (use it or ignore it). Usual cause: a strict validator "
        "that does not know the field."
    ),
)
def message_name_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A message with a participant name is accepted.

    ``name`` is an optional string on every message, used to tell participants of the
    same role apart.
    """
    yield from refused(exchange, "a message with a name", path="$.messages[0].name")


@check(
    area="messages",
    severity=Severity.SHOULD,
    spec="#/components/schemas/ChatCompletionRequest",
    probes=[UNKNOWN.id],
    fix=(
        "Ignore request fields you do not know (clients send newer ones). Usual cause: a "
        "validator with additionalProperties: false."
    ),
)
def unknown_fields_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Unknown request fields are accepted (ignored).

    ChatCompletionRequest allows additional properties, so a field the endpoint does not
    know is no reason to refuse. A WARN, not a FAIL: OpenAI itself refuses unknown fields.
    """
    status = exchange.status
    if status is not None and status >= 500:
        raise NotApplicable(f"answered {status}; see unknown_fields_no_server_error")
    if exchange.ok:
        return
    yield Finding(
        title="a request with an unknown field was refused",
        json_path=f"$.{UNKNOWN_FIELD}",
        expected="a 2xx answer: the document allows additional properties",
        actual=refusal_evidence(exchange, clipped=False),
    )


@check(
    area="messages",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionRequest",
    probes=[UNKNOWN.id],
    fix=(
        "Never answer an unknown request field with a 5xx: ignore it, or refuse it with a "
        "4xx. Usual cause: an unknown field passed on to the engine, which crashes."
    ),
)
def unknown_fields_no_server_error(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """An unknown request field never causes a server error.

    Refusing it is a choice (see unknown_fields_accepted); a 5xx means the endpoint
    broke on input the document allows.
    """
    status = exchange.status
    if status is not None and status >= 500:
        yield Finding(
            title="a request with an unknown field caused a server error",
            json_path=f"$.{UNKNOWN_FIELD}",
            expected="a 2xx answer (or a 4xx refusal)",
            actual=status,
        )
