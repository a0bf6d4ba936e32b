"""Log probabilities: present when asked for, absent when not, and numbers a client can use."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from conformance.checks._helpers import chunks, located, request_body
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import _chat
from conformance.checks._registry import (
    CheckContext,
    CheckFunc,
    NotApplicable,
    NotProvoked,
    Probe,
    check,
    probe,
    properties,
)
from conformance.checks._support import answer, require_served
from conformance.wire._exchange import Exchange

LOGPROB_SCHEMA = "#/components/schemas/ChatCompletionTokenLogprob"
TOP_LOGPROBS = 2


def _logprobs(model: str, **extra: object) -> dict[str, Any]:
    return _chat(model, logprobs=True, top_logprobs=TOP_LOGPROBS, **extra)


LOGPROBS = probe(
    Probe(
        "logprobs_top",
        f"the plain chat with logprobs: true, top_logprobs: {TOP_LOGPROBS}",
        _logprobs,
    )
)
LOGPROBS_STREAM = probe(
    Probe(
        "logprobs_top_stream",
        "the same logprobs request, streamed",
        lambda model: _logprobs(model, stream=True),
    )
)
LOGPROBS_OFF = probe(
    Probe("logprobs_off", "the plain chat with logprobs: false", lambda m: _chat(m, logprobs=False))
)
ASKED = (LOGPROBS.id, LOGPROBS_STREAM.id)


@dataclass(frozen=True)
class Entry:
    """One token's log-probability entry (or one of its alternatives) and where it is."""

    path: str
    chunk_index: int | None
    value: Any


def _choices(exchange: Exchange) -> Iterator[tuple[str, int | None, dict[str, Any]]]:
    """(JSON path, chunk index, choice) of every choice, streamed or not."""
    if exchange.streamed:
        for chunk in chunks(exchange):
            payload = chunk.payload if isinstance(chunk.payload, dict) else {}
            items = payload.get("choices")
            for k, choice in enumerate(items if isinstance(items, list) else []):
                if isinstance(choice, dict):
                    yield f"$.choices[{k}]", chunk.index, choice
        return
    items = answer(exchange).get("choices")
    for k, choice in enumerate(items if isinstance(items, list) else []):
        if isinstance(choice, dict):
            yield f"$.choices[{k}]", None, choice


def _text(choice: dict[str, Any]) -> object:
    holder = choice.get("delta", choice.get("message"))
    return holder.get("content") if isinstance(holder, dict) else None


def _entries(exchange: Exchange, *, alternatives: bool) -> Iterator[Entry]:
    """Every logprobs entry (and alternative); ``NotProvoked`` at the end when there was
    none: an answer without logprobs shows nothing about their values."""
    found = False
    for entry in _all_entries(exchange, alternatives=alternatives):
        found = True
        yield entry
    if not found:
        raise NotProvoked("the answer carries no logprobs to judge; see logprobs_present")


def _all_entries(exchange: Exchange, *, alternatives: bool) -> Iterator[Entry]:
    for path, chunk_index, choice in _choices(exchange):
        logprobs = choice.get("logprobs")
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        for k, entry in enumerate(content if isinstance(content, list) else []):
            if not isinstance(entry, dict):
                continue
            here = f"{path}.logprobs.content[{k}]"
            yield Entry(here, chunk_index, entry)
            top = entry.get("top_logprobs")
            if alternatives and isinstance(top, list):
                for j, alternative in enumerate(top):
                    if isinstance(alternative, dict):
                        yield Entry(f"{here}.top_logprobs[{j}]", chunk_index, alternative)


def _collapsed(func: CheckFunc) -> CheckFunc:
    """One finding per title, counting its repeats: a flaw at every token is one flaw."""

    @functools.wraps(func)
    def judged(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
        first: dict[str, Finding] = {}
        for finding in func(exchange, ctx):
            seen = first.get(finding.title)
            first[finding.title] = finding if seen is None else replace(seen, count=seen.count + 1)
        yield from first.values()

    return judged


def _at(where: tuple[str, int | None], title: str, expected: Any, actual: Any) -> Finding:
    return located(title, where, expected, actual)


@check(
    area="logprobs",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionRequest/properties/logprobs",
    probes=list(ASKED),
    covers=[
        *properties("ChatCompletionRequest", "logprobs", "top_logprobs"),
        *properties("ChatCompletionChoice", "logprobs"),
        *properties("ChatCompletionStreamChoice", "logprobs"),
        *properties("ChatCompletionLogprobs", "content"),
    ],
    fix=(
        "With logprobs: true, return choices[].logprobs.content with one entry per token. "
        "Usual cause: logprobs not requested from the engine, answered with null."
    ),
)
def logprobs_present(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """logprobs: true returns choices[].logprobs.content for the content.

    Every choice (every streamed choice) that carries content carries a non-empty
    ``logprobs.content`` list with one entry per token.
    """
    require_served(exchange, "logprobs")
    for path, chunk_index, choice in _choices(exchange):
        text = _text(choice)
        if not isinstance(text, str) or not text:
            continue
        logprobs = choice.get("logprobs")
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        if isinstance(content, list) and content:
            continue
        yield Finding(
            title="logprobs: true answered content without logprobs.content",
            json_path=f"{path}.logprobs",
            expected='{"content": [one entry per token]}',
            actual=logprobs,
            schema_path="#/components/schemas/ChatCompletionLogprobs",
            chunk_index=chunk_index,
        )


@check(
    area="logprobs",
    severity=Severity.MUST,
    spec=f"{LOGPROB_SCHEMA}/properties/logprob",
    probes=list(ASKED),
    covers=[*properties("ChatCompletionTopLogprob", "logprob")],
    fix=(
        "Report each logprob as a number at most 0 (a log of a probability). Usual cause: a "
        "probability or a sign-flipped value sent instead."
    ),
)
@_collapsed
def logprob_values(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Every logprob is a number at most 0.

    A log probability is the logarithm of a probability, so never above 0; ``-9999.0``
    marks a very unlikely token. Alternatives in ``top_logprobs`` are judged too.
    """
    require_served(exchange, "logprobs")
    for entry in _entries(exchange, alternatives=True):
        value = entry.value.get("logprob")
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            continue
        yield Finding(
            title="a logprob is above 0"
            if isinstance(value, int | float)
            else "a logprob is not a number",
            kind="logprob above 0" if isinstance(value, int | float) else "logprob not a number",
            json_path=f"{entry.path}.logprob",
            expected="a number <= 0",
            actual=value,
            chunk_index=entry.chunk_index,
        )


@check(
    area="logprobs",
    severity=Severity.MUST,
    spec=f"{LOGPROB_SCHEMA}/properties/top_logprobs",
    probes=list(ASKED),
    covers=[*properties("ChatCompletionRequest", "top_logprobs")],
    fix=(
        "Return the requested number of top_logprobs per token, most likely first. Usual "
        "cause: alternatives in the engine's internal (vocabulary) order."
    ),
)
@_collapsed
def top_logprobs_ranked(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """top_logprobs has the requested number of entries, most likely first.

    Never more than ``top_logprobs`` asked for; fewer only "in rare cases" (the document),
    so not at every position; sorted by logprob, descending.
    """
    require_served(exchange, "logprobs")
    body = request_body(exchange, ctx)
    wanted = body.get("top_logprobs") if isinstance(body, dict) else None
    short: list[Entry] = []
    positions = 0
    for entry in _entries(exchange, alternatives=False):
        top = entry.value.get("top_logprobs")
        if not isinstance(top, list) or not isinstance(wanted, int):
            continue  # the schema check names a missing list
        positions += 1
        values = [t.get("logprob") for t in top if isinstance(t, dict)]
        where = (f"{entry.path}.top_logprobs", entry.chunk_index)
        if len(top) > wanted:
            yield _at(where, "top_logprobs has more entries than requested", wanted, len(top))
        elif len(top) < wanted:
            short.append(entry)
        numbers = [v for v in values if isinstance(v, int | float)]
        if numbers != sorted(numbers, reverse=True):
            yield _at(where, "top_logprobs is not sorted most likely first", "descending", numbers)
    if short and len(short) == positions:
        first = short[0]
        yield Finding(
            title="top_logprobs never has the requested number of entries",
            json_path=f"{first.path}.top_logprobs",
            expected=wanted,
            actual=f"{len(first.value['top_logprobs'])} (fewer at all {positions} positions)",
            chunk_index=first.chunk_index,
        )


@check(
    area="logprobs",
    severity=Severity.MUST,
    spec=f"{LOGPROB_SCHEMA}/properties/bytes",
    probes=list(ASKED),
    covers=[
        *properties("ChatCompletionTokenLogprob", "token"),
        *properties("ChatCompletionTopLogprob", "token", "bytes"),
    ],
    fix=(
        "Give each token's bytes as its exact UTF-8 encoding. Usual cause: bytes built from "
        "a decoded string that lost or cut a multi-byte character."
    ),
)
@_collapsed
def logprobs_bytes(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A token's bytes are its UTF-8 encoding.

    ``bytes`` (or null) lists the token's UTF-8 bytes; where they decode on their own
    (a token may hold part of a character), they decode to the token.
    """
    require_served(exchange, "logprobs")
    for entry in _entries(exchange, alternatives=True):
        raw, token = entry.value.get("bytes"), entry.value.get("token")
        if raw is None:
            continue
        where = (f"{entry.path}.bytes", entry.chunk_index)
        if not isinstance(raw, list) or not all(isinstance(b, int) and 0 <= b <= 255 for b in raw):
            yield _at(where, "bytes is not a list of byte values", "integers 0..255", raw)
            continue
        try:
            decoded = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            continue  # part of a character: only the joined bytes decode
        if decoded != token:
            yield _at(where, "bytes do not decode to the token", token, decoded)


@check(
    area="logprobs",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionChoice/properties/logprobs",
    probes=[LOGPROBS_OFF.id, LOGPROBS.id],
    fix=(
        "With logprobs: false (or not asked), send logprobs: null. Usual cause: logprobs "
        "always computed and sent."
    ),
)
def logprobs_absent_when_off(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """logprobs: false gives logprobs null.

    A client that did not ask for log probabilities should not pay for them, and reads
    a non-null ``logprobs`` as an answer to a question it did not ask. Provoked only if
    the endpoint gives logprobs when asked (``logprobs_top``): one that never does shows
    nothing by leaving them out.
    """
    if ctx.probe.id == LOGPROBS.id:
        raise NotApplicable("the answer with logprobs is what the one without is measured by")
    require_served(exchange, "logprobs: false")
    sent = False
    for path, chunk_index, choice in _choices(exchange):
        if choice.get("logprobs") is not None:
            sent = True
            yield Finding(
                title="logprobs: false answered with logprobs",
                json_path=f"{path}.logprobs",
                expected=None,
                actual=choice.get("logprobs"),
                chunk_index=chunk_index,
            )
    asked = ctx.peers.get(LOGPROBS.id)
    if not sent and not (
        asked is not None
        and asked.ok
        and any(c.get("logprobs") is not None for _, _, c in _choices(asked))
    ):
        raise NotProvoked("the endpoint gave no logprobs even when asked (logprobs_top)")


# Issue 19: logprobs that do not cover the content.
LOGPROBS_N_STREAM = probe(
    Probe(
        "logprobs_n_stream",
        "the logprobs request asking for n: 2 choices, streamed",
        lambda model: _logprobs(model, n=2, stream=True),
    )
)


@check(
    area="logprobs",
    severity=Severity.MUST,
    spec="#/components/schemas/ChatCompletionLogprobs/properties/content",
    probes=[*ASKED, LOGPROBS_N_STREAM.id],
    fix=(
        "Return one logprobs entry per generated token of each choice, whose tokens (or "
        "bytes) spell the content exactly. Usual cause: logprobs collected for the first "
        "choice only, or the last token's entry dropped when the stream ends."
    ),
)
def logprobs_spell_content(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The logprobs tokens of each choice spell its content, streamed and not.

    A client that shows or scores tokens (highlighting, confidence, constrained decoding)
    walks ``logprobs.content`` as the content: its tokens' bytes (their text where there
    are none), joined in order, are the content's UTF-8 bytes, for each of ``n`` choices,
    across every chunk of a stream. A missing last entry, a token sent without its entry,
    or a choice of ``n`` with none at all, leaves text no logprob covers. Judged for every
    choice with content, once some choice carried logprobs (none at all is
    ``logprobs_present``'s to judge).
    """
    require_served(exchange, "logprobs")
    spelled: dict[object, bytearray] = {}  # by the tokens' text
    in_bytes: dict[object, bytearray] = {}  # by their bytes (a token may be part of a character)
    text: dict[object, str] = {}
    where: dict[object, tuple[str, int | None]] = {}
    for path, chunk_index, choice in _choices(exchange):
        index = choice.get("index")
        said = _text(choice)
        logprobs = choice.get("logprobs")
        content = logprobs.get("content") if isinstance(logprobs, dict) else None
        if (isinstance(said, str) and said) or content:  # the last place that said something
            where[index] = (f"{path}.logprobs.content", chunk_index)
        if isinstance(said, str):
            text[index] = text.get(index, "") + said
        for entry in content if isinstance(content, list) else []:
            spelled.setdefault(index, bytearray()).extend(_token_bytes(entry, "token"))
            in_bytes.setdefault(index, bytearray()).extend(_token_bytes(entry, "bytes"))
    judged = [i for i in text if text[i]]
    if not spelled or not judged:
        raise NotProvoked("no choice carried both content and logprobs")
    for index in judged:
        wanted = text[index].encode("utf-8", "surrogatepass")
        got = bytes(spelled.get(index, b""))
        if wanted not in (got, bytes(in_bytes.get(index, b""))):
            shown = got.decode("utf-8", "replace")
            yield Finding(
                title="the logprobs tokens do not spell the content",
                json_path=where[index][0],
                expected=text[index][:200],
                actual=shown[:200],
                schema_path="#/components/schemas/ChatCompletionLogprobs/properties/content",
                chunk_index=where[index][1],
            )


def _token_bytes(entry: object, by: str) -> bytes:
    """A logprobs entry's bytes ``by`` its ``bytes`` (when a list of byte values) or by its
    token's UTF-8 (``logprobs_bytes`` judges whether the two agree)."""
    if not isinstance(entry, dict):
        return b""
    raw = entry.get("bytes")
    values: list[int] = raw if isinstance(raw, list) else []
    if by == "bytes" and values and all(isinstance(b, int) and 0 <= b <= 255 for b in values):
        return bytes(values)
    token = entry.get("token")
    return token.encode("utf-8", "surrogatepass") if isinstance(token, str) else b""
