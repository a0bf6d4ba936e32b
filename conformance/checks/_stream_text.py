"""What a stream says, as a client reassembles it (issue 19): a stop text of several tokens
is not streamed, not even its start; text with long characters arrives whole in every
event; and an error event sent after the 200 is the last thing before ``[DONE]`` (judged
by ``stream_done_terminator``).

The judgments of the stream area's checks ``stream_stop_honoured`` and
``stream_text_intact`` (registered in ``stream.py``): each bug here breaks SDK accumulators
that the framing and schema checks see nothing wrong with.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from conformance.checks._answer import answered, as_list, read_answer, requested
from conformance.checks._helpers import clip, require_event_stream, require_success
from conformance.checks._model import Finding
from conformance.checks._probes_stream import (
    STOP_SEEDED,
    answer_text,
)
from conformance.checks._registry import CheckContext, NotApplicable, NotProvoked
from conformance.checks._support import deltas
from conformance.wire._exchange import DONE, Exchange
from conformance.wire._sse import INVALID_UTF8

STOP = "#/components/schemas/ChatCompletionRequest/properties/stop"
STREAM_PROPERTY = "#/components/schemas/ChatCompletionRequest/properties/stream"
DELTA_CONTENT = "$.choices[0].delta.content"
_BLANK_LINE = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def judge_stream_stop(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The judgment of ``stream.stream_stop_honoured``."""
    if ctx.probe.id == STOP_SEEDED.id:
        raise NotApplicable("the answer without stop is what the streamed stop is measured by")
    yield from answered(exchange, ctx, what="stop", excused_by=("stop",))
    if not exchange.ok:
        return
    require_event_stream(exchange)
    stop = next(iter(as_list(requested(exchange, ctx).get("stop"))), None)
    free = answer_text(ctx.peer(STOP_SEEDED.id))
    if not isinstance(stop, str) or not stop or free is None or stop not in free:
        raise NotApplicable("the stop text is not part of the answer without stop")
    before = free[: free.index(stop)]
    view = read_answer(exchange).choices.get(0)
    content = view.content if view is not None else ""
    leaked = content[len(before) :] if content.startswith(before) else ""
    if stop in content or (leaked and stop.startswith(leaked)):
        yield Finding(
            title="the stream sends the start of its stop text"
            if stop not in content
            else "the stream sends its stop text",
            kind="stop text streamed" if stop in content else "start of the stop text streamed",
            json_path=DELTA_CONTENT,
            expected=f"the content ends before {stop!r}: {clip(before, 120)!r}",
            actual=clip(content, 160),
            schema_path=STOP,
            chunk_index=_event_at(exchange, len(before)),
        )
        return
    if content != before or view is None:
        raise NotProvoked(
            f"the stream did not write the answer without stop up to {stop!r}: "
            f"{clip(content, 60)!r} for {clip(before, 60)!r}"
        )
    if view.finish_reason != "stop":
        yield Finding(
            title="a stream cut by its stop text does not finish with stop",
            kind="stopped stream not finished with stop",
            json_path=view.finish_mark.json_path,
            expected="stop",
            actual=view.finish_reason,
            chunk_index=view.finish_mark.chunk_index,
        )


def _event_at(exchange: Exchange, offset: int) -> int | None:
    """The event whose content delta of choice 0 holds character ``offset`` of the text."""
    seen = 0
    for delta in deltas(exchange):
        text = delta.delta.get("content")
        if delta.choice_index != 0 or not isinstance(text, str):
            continue
        seen += len(text)
        if seen > offset:
            return delta.chunk_index
    return None


def judge_text_intact(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """The judgment of ``stream.stream_text_intact``."""
    require_success(exchange)
    require_event_stream(exchange)
    text = "".join(view.content for view in read_answer(exchange).choices.values())
    broken = [p for p in exchange.framing if p.title == INVALID_UTF8]
    if not broken and text.isascii():
        raise NotProvoked(f"the answer holds no character beyond ASCII: {clip(text, 60)!r}")
    split = list(_split_characters(exchange))
    yield from split
    if not split:
        for problem in broken:
            yield Finding(
                title="an event is not valid UTF-8",
                expected="UTF-8 text in every event",
                actual=problem.detail,
                chunk_index=problem.event_index,
            )
    if not broken and "\ufffd" in text:
        yield Finding(
            title="the streamed text holds U+FFFD",
            json_path=DELTA_CONTENT,
            expected="the characters the model wrote",
            actual=clip(text, 160),
            chunk_index=_event_with(exchange, "\ufffd"),
        )
    lone = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
    if lone is not None:
        yield Finding(
            title="the streamed text holds a lone surrogate",
            json_path=DELTA_CONTENT,
            expected="whole characters (a surrogate pair escapes one character)",
            actual=f"U+{ord(lone):04X} in {clip(text, 120)!r}",
            chunk_index=_event_with(exchange, lone),
        )


def _event_with(exchange: Exchange, character: str) -> int | None:
    return next(
        (
            d.chunk_index
            for d in deltas(exchange)
            if isinstance(d.delta.get("content"), str) and character in d.delta["content"]
        ),
        None,
    )


def _split_characters(exchange: Exchange) -> Iterator[Finding]:
    """A finding per character whose bytes begin at the end of one event's bytes and end
    in the next event's."""
    blocks = [b for b in _BLANK_LINE.split(exchange.body) if b.strip()]
    events = [e.index for e in exchange.events]
    for n, (block, after) in enumerate(itertools.pairwise(blocks)):
        head = _unfinished(block)
        tail = _continuation(after)
        if head is None or tail is None:
            continue
        try:
            joined = (head + tail).decode("utf-8")
        except UnicodeDecodeError:
            continue
        yield Finding(
            title="a character is split across two events",
            json_path=DELTA_CONTENT,
            expected="every event's bytes valid UTF-8: each character whole in one event",
            actual=f"{joined!r} sent as {head!r} at the end of one event and {tail!r} in the next",
            chunk_index=events[n] if n < len(events) else None,
        )


def _unfinished(block: bytes) -> bytes | None:
    """The start of a character of several bytes that ``block``'s bytes end on (before the
    JSON closes), or None."""
    try:
        block.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = block[exc.start : exc.end]
        started = bool(bad) and bad[0] >= 0xC2 and exc.reason == "invalid continuation byte"
        return bad if started else None
    return None


def _continuation(block: bytes) -> bytes | None:
    """The continuation bytes (0x80-0xBF) that make ``block``'s first invalid bytes."""
    try:
        block.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        start = exc.start  # the name of the exception is unbound after the block
    end = start
    while end < len(block) and 0x80 <= block[end] <= 0xBF:
        end += 1
    return block[start:end] or None


def after_error_event(exchange: Exchange) -> Iterator[Finding]:
    """What follows an error event in a stream: nothing but ``[DONE]`` may (judged by
    ``stream_done_terminator``). The OpenAI SDKs raise on an error event, so chunks after
    it are lost to every client or, to one that reads on, glued to an answer the server
    gave up on."""
    found = exchange.error_event()
    index, message = found if found is not None else (None, "")
    if index is None:
        return
    after = []
    for event in exchange.events:
        if event.data == DONE:
            break
        if event.index > index:
            after.append(event)
    if after:
        yield Finding(
            title="the stream goes on after an error event",
            expected=f"only data: {DONE} after the error {clip(message, 80)!r}",
            actual=f"{len(after)} more event(s): {clip(after[0].data, 120)}",
            chunk_index=after[0].index,
        )
