"""The defects of what a stream says rather than how it is framed (issue 19): a stop text
leaked at the end of a stream, a character split across two events, logprobs that do not
spell the content, chunks after an error event, reasoning repeated in content; and the
option to name the reasoning field ``reasoning`` (vLLM's and OpenRouter's name) instead of
``reasoning_content``.

Each is applied where it belongs: misreading the request, changing the completion, the
body, the chunks or the bytes of the events. Every method is a no-op unless its defect (or
the option) is switched on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from conformance.server._config import ServerConfig
from conformance.server._errors import error_body
from conformance.server._generator import Choice, Completion, Params
from conformance.server._model_generator import recut

CHUNKS_BEFORE_ERROR = 2  # chunks-after-error-event: chunks sent before the error event
LONG = 3  # split-multibyte-char: characters of this many UTF-8 bytes or more
OVERLOADED = "The server is overloaded. Please try again later."
_CUT = "@@cut@@"  # where the split character's bytes go in an event's JSON text


class TextDefects:
    """One server's defects of stream text, logprobs, error events and reasoning."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config

    def adjust(self, params: Params, *, streamed: bool) -> Params:
        """stream-stop-leak: a stream is written past its stop text (cut in ``completion``)."""
        if streamed and params.stop and self.config.has("stream-stop-leak"):
            return replace(params, stop=())
        return params

    def completion(
        self, completion: Completion, stops: tuple[str, ...], *, streamed: bool
    ) -> Completion:
        choices = tuple(self._choice(choice, stops, streamed) for choice in completion.choices)
        return replace(completion, choices=choices)

    def _choice(self, choice: Choice, stops: tuple[str, ...], streamed: bool) -> Choice:
        has = self.config.has
        if streamed and stops and has("stream-stop-leak"):
            choice = _leak_stop(choice, stops)
        if choice.logprobs and len(choice.tokens) > 1 and has("logprobs-short"):
            *head, last, very_last = choice.tokens  # sent as one token, with one entry
            choice = replace(
                choice, tokens=(*head, last + very_last), logprobs=choice.logprobs[:-1]
            )
        if choice.reasoning and not choice.tool_calls and has("reasoning-in-content-too"):
            choice = replace(choice, tokens=(*choice.reasoning, *choice.tokens), logprobs=None)
        return choice

    def body(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A non-streamed body: the reasoning field under the configured name."""
        for choice in payload.get("choices", []):
            self._rename(choice.get("message"))
        return payload

    def chunks(self, source: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Stream chunks: the reasoning field under the configured name."""
        for item in source:
            for choice in item.get("choices", []):
                self._rename(choice.get("delta"))
            yield item

    def _rename(self, holder: object) -> None:
        name = self.config.reasoning_field
        if (
            isinstance(holder, dict)
            and name != "reasoning_content"
            and "reasoning_content" in holder
        ):
            holder[name] = holder.pop("reasoning_content")

    def events(
        self, source: Iterator[dict[str, Any]], encode: Callable[[dict[str, Any]], bytes]
    ) -> Iterator[bytes]:
        """The chunk events' bytes: split characters, an error event in the middle."""
        has = self.config.has
        for n, item in enumerate(source):
            if n == CHUNKS_BEFORE_ERROR and has("chunks-after-error-event"):
                error = error_body(OVERLOADED, kind="server_error", code="overloaded")
                yield b"data: " + json.dumps(error).encode() + b"\n\n"
            if has("split-multibyte-char"):
                yield from _split(item, encode)
            else:
                yield encode(item)


def _leak_stop(choice: Choice, stops: tuple[str, ...]) -> Choice:
    """The choice written past its first stop text, cut before the stop text's last
    character: the start of the stop text (sent before the server saw the whole of it)
    stays in the content."""
    text = "".join(choice.tokens)
    found = [(text.find(s), s) for s in stops if s and s in text]
    if choice.tool_calls or not found:
        return choice
    start, stop = min(found)
    return recut(choice, start + len(stop) - 1, "stop")


def _split(item: dict[str, Any], encode: Callable[[dict[str, Any]], bytes]) -> Iterator[bytes]:
    """``item``'s event, or two when its content holds a long character: the first ends
    inside that character's bytes, the second holds the rest of them (and the content
    after), neither valid UTF-8 on its own."""
    for choice in item.get("choices", []):
        delta = choice.get("delta") or {}
        content = delta.get("content")
        at = _long_character(content) if isinstance(content, str) else None
        if at is None:
            continue
        assert isinstance(content, str)  # noqa: S101 - _long_character found one in it
        raw = content.encode("utf-8")
        cut = len(content[:at].encode("utf-8")) + 2  # two bytes of a 3- or 4-byte character
        delta["content"] = _CUT
        first_event = encode(item)
        choice.update(finish_reason=None, logprobs=None)  # those stay with the first
        yield first_event.replace(_CUT.encode(), raw[:cut])
        yield encode(item).replace(_CUT.encode(), raw[cut:])
        return
    yield encode(item)


def _long_character(text: str) -> int | None:
    return next(
        (i for i, c in enumerate(text) if len(c.encode("utf-8", "surrogatepass")) >= LONG),
        None,
    )
