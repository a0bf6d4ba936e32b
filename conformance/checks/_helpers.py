"""Small pieces the area modules share: applicability guards, JSON parsing, findings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from conformance.checks._model import Finding
from conformance.checks._registry import CheckContext, NotApplicable
from conformance.contract._validation import Violation
from conformance.wire._exchange import DONE, Exchange, parse_json

SHARED = ("chat", "chat_stream", "chat_stream_usage")  # the probes success_status judges

EVENT_STREAM = "text/event-stream"
JSON = "application/json"
CLIP = 200  # characters of a body or event kept in a finding's `actual`


def clip(text: str, limit: int = CLIP) -> str:
    """``text`` cut to ``limit`` characters, with the cut made visible."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"... ({len(text)} characters)"


def content_type_header(exchange: Exchange) -> str:
    """The Content-Type header as received, or ``(none)``."""
    return exchange.headers.get("content-type", "(none)")


def require_success(exchange: Exchange) -> None:
    """Only a 2xx answer can be judged for its body; any other is ``success_status``'s
    (for the shared probes) or the check's that the probe was made for."""
    if not exchange.ok:
        owner = "success_status" if exchange.id in SHARED else "the check this probe is for"
        raise NotApplicable(f"the request was answered with status {exchange.status}; see {owner}")


def require_event_stream(exchange: Exchange) -> None:
    """Stream checks judge 2xx answers that came back as ``text/event-stream``."""
    require_success(exchange)
    if not exchange.streamed:
        raise NotApplicable(
            f"the response is not an event stream (Content-Type "
            f"{content_type_header(exchange)!r}); see stream_content_type"
        )


def findings_from(
    violations: Iterable[Violation], chunk_index: int | None = None
) -> Iterator[Finding]:
    """One finding per schema violation, titled so repeats across chunks group together."""
    for violation in violations:
        yield Finding(
            title=violation.summary,
            kind=violation.summary,  # the schema's rule, no value of the instance
            json_path=violation.json_path,
            expected=violation.expected,
            actual=violation.actual,
            schema_path=violation.schema_path,
            chunk_index=chunk_index,
        )


@dataclass(frozen=True)
class Chunk:
    """A data event before ``[DONE]``: its index and payload, or why it is not JSON."""

    index: int
    data: str
    payload: Any = None
    error: str | None = None  # set when ``data`` is not JSON
    glued: bool = False  # one of several JSON lines in one event (no blank line between)


def chunks(exchange: Exchange) -> list[Chunk]:
    """Every data event before ``[DONE]``, parsed; a mistyped ``[DONE]`` is not a chunk
    (``stream_done_terminator`` names it)."""

    def parse() -> list[Chunk]:
        out: list[Chunk] = []
        for event, payload, error in exchange.event_payloads():
            if is_done_like(event.data):
                continue
            if error is None:
                out.append(Chunk(event.index, event.data, payload))
                continue
            glued = glued_payloads(event.data)
            if glued is None:
                out.append(Chunk(event.index, event.data, error=str(error)))
            else:  # stream_event_separation names it; the chunks are judged as sent
                out.extend(Chunk(event.index, d, p, glued=True) for d, p in glued)
        return out

    chunks: list[Chunk] = exchange.memo("chunks", parse)
    return list(chunks)


def glued_payloads(data: str) -> list[tuple[str, Any]] | None:
    """The JSON documents of an event's data when it is several of them, one per line.

    That is what a server sends when it forgets the blank line between events: the
    decoder joins their ``data:`` lines into one event, which no client can parse.
    """
    lines = data.split("\n")
    if len(lines) < 2:
        return None
    out: list[tuple[str, Any]] = []
    for line in lines:
        if line == DONE:  # the terminator glued on after the last chunk
            continue
        try:
            out.append((line, parse_json(line)))
        except ValueError:
            return None
    return out


def looks_like_event_stream(body: bytes) -> bool:
    """True when a body that is not labelled as one is an event stream all the same."""
    head = body[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith((b"data:", b"event:", b": ", b"id:"))


def parse_body(exchange: Exchange) -> tuple[Any, str | None]:
    """The body as JSON, or ``(None, why not)``."""
    if not exchange.body:
        return None, "the body is empty"
    try:
        return exchange.json(), None
    except ValueError as exc:
        return None, f"{exc}: {clip(exchange.text())}"


def located(title: str, where: tuple[str, int | None], expected: Any, actual: Any) -> Finding:
    """A finding with a fixed ``title`` (its kind) at ``where``: (JSON path, event index)."""
    path, chunk_index = where
    return Finding(
        title=title,
        kind=title,  # callers name fixed titles
        json_path=path,
        expected=expected,
        actual=actual,
        chunk_index=chunk_index,
    )


def not_json(what: str, why: str, *, chunk_index: int | None = None) -> Finding:
    return Finding(
        title=f"{what} is not JSON",
        kind="not JSON",
        expected="a JSON document",
        actual=why,
        chunk_index=chunk_index,
    )


def request_body(exchange: Exchange, ctx: CheckContext) -> object:
    """The request as sent (recorded), else as the probe builds it."""
    sent = exchange.request.body
    return sent if sent is not None else ctx.probe.body(ctx.model)


def broken_rule(exchange: Exchange, ctx: CheckContext) -> Violation:
    """The rule of ``ChatCompletionRequest`` that the request breaks, read from the contract.

    Raises ``NotApplicable`` when the contract in force accepts the request: then an
    endpoint that accepts it is right to.
    """
    violations = ctx.contract.validator("ChatCompletionRequest").validate(
        request_body(exchange, ctx)
    )
    if not violations:
        raise NotApplicable(
            f"probe {ctx.probe.id!r} is valid against ChatCompletionRequest in this contract, "
            "so the endpoint may accept it"
        )
    return violations[0]


def describe_rule(violation: Violation) -> str:
    """``"$.temperature: breaks `maximum`: 2"``, the rule a request breaks, in one line."""
    return f"{violation.json_path}: {violation.summary}"


def is_done_like(data: str) -> bool:
    """True for an attempt at ``[DONE]`` that is not exactly it (``[done]``, ``DONE``, ...)."""
    squeezed = data.strip().strip("[]").strip().upper()
    return data != DONE and (squeezed == "DONE" or data.lstrip().upper().startswith(DONE))
