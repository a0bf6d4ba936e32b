"""An incremental reader for ``text/event-stream`` bodies (WHATWG HTML, 9.2.6 "Interpreting an
event stream").

Unlike a client library, this reader keeps a transcript: every dispatched event with the lines
it came from, and every way the bytes broke the format, as :class:`FramingProblem` records.
Chat-stream conventions (``[DONE]``, chunk JSON) are judged by the checks, not here.

Lines are split on bytes (CR and LF never occur inside a multi-byte UTF-8 sequence) and decoded
one complete line at a time, so byte offsets are exact and any split of the input between
``feed`` calls gives the same result.
"""

from __future__ import annotations

import codecs
from collections import Counter
from dataclasses import dataclass

BOM = codecs.BOM_UTF8
UNTERMINATED = "stream ended inside an event (no blank line after the last event)"
INVALID_UTF8 = "invalid UTF-8"
UNKNOWN_FIELD = "unknown field"
INVALID_RETRY = "retry is not a number"
ID_WITH_NUL = "id contains NUL"
MAX_PROBLEMS_PER_KIND = 20  # the rest are counted, so a garbage body cannot fill memory
KNOWN_FIELDS = ("data", "event", "id", "retry")


@dataclass(frozen=True, slots=True)  # slots: a stream may hold thousands
class ServerSentEvent:
    """One dispatched event, in the order received (``index`` counts from 0)."""

    index: int
    data: str
    event: str = ""  # the `event` field; "" means the default type, "message"
    id: str = ""  # the last event ID in force when the event was dispatched
    retry: int | None = None
    raw: str = ""  # the event's lines as received, line ends normalised to "\n"


@dataclass(frozen=True)
class FramingProblem:
    """A way the byte stream broke the event-stream format or a chat-stream convention."""

    title: str
    detail: str
    offset: int  # byte offset in the body where it was noticed
    event_index: int | None = None  # the event it concerns, if any


class SSEDecoder:
    """Feed body bytes as they arrive; get back the events each piece completed.

    ``problems`` collects framing problems (nothing here ever raises for bad input);
    problems found in an event's lines are added once that event is dispatched or dropped,
    so they can name it. Call :meth:`close` at the end of the body.
    """

    def __init__(self) -> None:
        self.problems: list[FramingProblem] = []
        self.bytes_read = 0
        self._offset = 0  # byte offset where the line being assembled starts
        self._partial: list[bytes] = []  # bytes of a line whose end has not arrived yet
        self._skip_lf = False  # the last piece ended in CR: a leading LF next completes CRLF
        self._first_line = True
        self._closed = False
        self._count = 0  # events dispatched so far
        # The event being built.
        self._data: list[str] = []
        self._event = ""
        self._retry: int | None = None
        self._raw: list[str] = []
        self._pending: list[tuple[str, str, int]] = []  # (title, detail, offset)
        # Persists across events, as the spec's "last event ID buffer".
        self._last_id = ""
        self._suppressed: Counter[str] = Counter()
        self._kept: Counter[str] = Counter()

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        """Decode ``data`` (any slice of the body) and return the events it completed."""
        if self._closed:
            raise ValueError("SSEDecoder.feed() was called after close(); use a new decoder")
        self.bytes_read += len(data)
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[0] == 0x0A:  # the LF of a CRLF split across two pieces
                data = data[1:]
                self._offset += 1
        out: list[ServerSentEvent] = []
        for piece in data.splitlines(keepends=True):
            last = piece[-1]
            if last == 0x0A:
                end = 2 if piece.endswith(b"\r\n") else 1
            elif last == 0x0D:
                end = 1
            else:  # no line end yet: only the last piece can be partial
                self._partial.append(piece)
                continue
            content = piece[:-end]
            if self._partial:
                self._partial.append(content)
                content = b"".join(self._partial)
                self._partial.clear()
            start = self._offset
            self._offset += len(content) + end
            event = self._line(content, start)
            if event is not None:
                out.append(event)
        if data.endswith(b"\r"):
            self._skip_lf = True
        return out

    def close(self) -> list[ServerSentEvent]:
        """End of body. An event still being built is not dispatched (as the spec says);
        it is recorded as a problem, with its lines, so a missing final blank line shows."""
        if self._closed:
            return []
        self._closed = True
        mid_line = bool(self._partial)  # the last line has no line end
        if self._partial:
            content = b"".join(self._partial)
            self._partial.clear()
            start = self._offset
            if self._first_line and content.startswith(BOM):
                content, start = content[len(BOM) :], start + len(BOM)
            if content:
                self._raw.append(self._decode(content, start))
        self._flush_pending(None)
        if self._raw:
            raw = "\n".join(self._raw) + ("" if mid_line else "\n")
            self._problem(UNTERMINATED, f"never dispatched: {raw!r}", self.bytes_read, None)
        self._reset_event()
        for title, count in self._suppressed.items():
            self.problems.append(
                FramingProblem(
                    title,
                    f"{count} more like this were not listed "
                    f"(only the first {MAX_PROBLEMS_PER_KIND} are kept)",
                    self.bytes_read,
                )
            )
        self._suppressed.clear()
        return []

    # -- internals ---------------------------------------------------------------------------

    def _line(self, content: bytes, start: int) -> ServerSentEvent | None:
        if self._first_line:
            self._first_line = False
            if content.startswith(BOM):
                content, start = content[len(BOM) :], start + len(BOM)
        if not content:
            return self._dispatch()
        text = self._decode(content, start)
        self._raw.append(text)
        if text[0] == ":":
            return None  # a comment
        name, colon, value = text.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        self._field(name, value, text, start)
        return None

    def _field(self, name: str, value: str, line: str, start: int) -> None:
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" in value:
                self._pending.append((ID_WITH_NUL, f"the id field was ignored: {line!r}", start))
            else:
                self._last_id = value
        elif name == "retry":
            if value.isascii() and value.isdigit():
                self._retry = int(value)
            else:
                self._pending.append(
                    (
                        INVALID_RETRY,
                        f"retry must be ASCII digits only; the field was ignored: {line!r}",
                        start,
                    )
                )
        else:
            self._pending.append(
                (
                    UNKNOWN_FIELD,
                    f"field {name!r} is not one of {', '.join(KNOWN_FIELDS)}; "
                    f"the line was ignored: {line!r}",
                    start,
                )
            )

    def _dispatch(self) -> ServerSentEvent | None:
        if not self._data:  # nothing to dispatch: the block's lines are dropped
            self._flush_pending(None)
            self._reset_event()
            return None
        event = ServerSentEvent(
            index=self._count,
            data="\n".join(self._data),
            event=self._event,
            id=self._last_id,
            retry=self._retry,
            raw="\n".join(self._raw) + "\n",
        )
        self._flush_pending(self._count)
        self._count += 1
        self._reset_event()
        return event

    def _reset_event(self) -> None:
        self._data = []
        self._event = ""
        self._retry = None
        self._raw = []

    def _decode(self, content: bytes, start: int) -> str:
        try:
            return content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        # Replace each maximal invalid subsequence by U+FFFD (what errors="replace" does),
        # recording where each one was.
        parts: list[str] = []
        view = memoryview(content)
        pos = 0
        while True:
            try:
                parts.append(codecs.utf_8_decode(view[pos:], "strict", True)[0])
                return "".join(parts)
            except UnicodeDecodeError as exc:
                bad = bytes(view[pos + exc.start : pos + exc.end])
                parts.append(str(view[pos : pos + exc.start], "utf-8"))
                parts.append("\ufffd")
                self._pending.append(
                    (
                        INVALID_UTF8,
                        f"the bytes {bad!r} are not UTF-8; read as U+FFFD",
                        start + pos + exc.start,
                    )
                )
                pos += exc.end

    def _flush_pending(self, event_index: int | None) -> None:
        for title, detail, offset in self._pending:
            self._problem(title, detail, offset, event_index)
        self._pending.clear()

    def _problem(self, title: str, detail: str, offset: int, event_index: int | None) -> None:
        if self._kept[title] >= MAX_PROBLEMS_PER_KIND:
            self._suppressed[title] += 1
            return
        self._kept[title] += 1
        self.problems.append(FramingProblem(title, detail, offset, event_index))
