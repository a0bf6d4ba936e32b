"""An incremental reader for ``text/event-stream`` bodies (WHATWG HTML, section 9.2).

Placeholder: the data types are fixed here; the decoder is being written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
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
