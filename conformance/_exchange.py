"""One HTTP exchange with the endpoint, recorded as evidence (secrets already redacted)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance._sse import FramingProblem, ServerSentEvent

DONE = "[DONE]"
EVIDENCE_BODY_LIMIT = 64 * 1024  # bytes of a body kept for the report; the rest is marked cut


@dataclass
class RecordedRequest:
    method: str
    url: str
    headers: dict[str, str]  # as sent, with credentials redacted
    body: Any  # the JSON body as sent (or the raw text when it was not JSON)


@dataclass
class Exchange:
    """A request and what came back. ``id`` names the probe that sent it."""

    id: str
    request: RecordedRequest
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names, redacted
    body: bytes = b""  # the body (or raw stream) as received, up to the client's cap
    body_truncated: bool = False  # True when ``body`` is cut: the rest was read but not kept
    events: list[ServerSentEvent] = field(default_factory=list)  # when read as a stream
    framing: list[FramingProblem] = field(default_factory=list)
    error: str | None = None  # a transport failure: nothing can be concluded
    # Why the body did not decode as its Content-Encoding said (``body`` then holds the bytes
    # as received from that point): a finding of the endpoint, not a transport failure.
    decoding: str | None = None
    elapsed_s: float = 0.0
    streamed: bool = False  # True when the body was read as an event stream
    attempts: int = 1  # requests sent for this exchange (retries included; 0: not sent)
    retries: list[str] = field(default_factory=list)  # why each earlier attempt was retried

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ("" when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body)

    def data_events(self) -> list[ServerSentEvent]:
        """The events whose ``data`` is a chunk: everything up to (not including) ``[DONE]``."""
        out: list[ServerSentEvent] = []
        for event in self.events:
            if event.data == DONE:
                break
            out.append(event)
        return out

    def reported_usage(self) -> tuple[dict[str, Any], int | None] | None:
        """The ``usage`` object the endpoint reported (a stream's last one) and the index of
        the event that carried it (None for a body), or None when it reported none.

        The one reader of usage: the budget, the usage checks and the answer views use it.
        """
        if not self.streamed:
            try:
                payload = self.json()
            except ValueError:
                return None
            usage = payload.get("usage") if isinstance(payload, dict) else None
            return (usage, None) if isinstance(usage, dict) else None
        found: tuple[dict[str, Any], int | None] | None = None
        for event in self.data_events():
            for payload in _payloads(event.data):
                usage = payload.get("usage") if isinstance(payload, dict) else None
                if isinstance(usage, dict):
                    found = (usage, event.index)
        return found

    def usage(self) -> tuple[int, int] | None:
        """(prompt_tokens, completion_tokens) as the endpoint reported them, or None."""
        reported = self.reported_usage()
        if reported is None:
            return None
        prompt = token_count(reported[0].get("prompt_tokens"))
        completion = token_count(reported[0].get("completion_tokens"))
        if prompt is None or completion is None:
            return None
        return prompt, completion

    def estimated_usage(self) -> tuple[int, int]:
        """A rough (prompt, completion) when the endpoint reported none: about 4 tokens per
        3 words of the messages sent, and one token per content delta or 4 per 3 words."""
        body = self.request.body if isinstance(self.request.body, dict) else {}
        words = len(json.dumps(body.get("messages", "")).split())
        prompt = (words * 4 + 2) // 3
        if self.streamed:
            return prompt, len(self.data_events())
        try:
            payload = self.json()
        except ValueError:
            return prompt, 0
        text = ""
        if isinstance(payload, dict):
            for choice in payload.get("choices") or []:
                message = choice.get("message") if isinstance(choice, dict) else None
                if isinstance(message, dict):
                    text += " " + json.dumps(message.get("content") or "")
                    text += " " + json.dumps(message.get("tool_calls") or "")
        return prompt, (len(text.split()) * 4 + 2) // 3

    def to_dict(self, body_limit: int = EVIDENCE_BODY_LIMIT) -> dict[str, Any]:
        """The exchange as evidence for ``results.json``; long bodies are cut visibly."""
        text = self.body[:body_limit].decode("utf-8", errors="replace")
        truncated = self.body_truncated or len(self.body) > body_limit
        return {
            "id": self.id,
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": self.request.headers,
                "body": self.request.body,
            },
            "response": None
            if self.status is None
            else {
                "status": self.status,
                "headers": self.headers,
                "body": text,
                "body_truncated": truncated,
                "streamed": self.streamed,
                "events": [
                    {"index": e.index, "event": e.event, "id": e.id, "data": e.data}
                    for e in self.events
                ],
            },
            "framing_problems": [
                {
                    "title": p.title,
                    "detail": p.detail,
                    "offset": p.offset,
                    "event_index": p.event_index,
                }
                for p in self.framing
            ],
            "error": self.error,
            "elapsed_s": round(self.elapsed_s, 4),
            "attempts": self.attempts,
            "retries": list(self.retries),
        }


def token_count(value: object) -> int | None:
    """``value`` when it is a token count: a non-negative integer (``true`` is not one)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _payloads(data: str) -> list[Any]:
    """The JSON documents of an event's data: one, or one per line when several were glued
    into one event (a missing blank line); none when it is not JSON."""
    try:
        return [json.loads(data)]
    except ValueError:
        pass
    out: list[Any] = []
    for line in data.split("\n"):
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out
