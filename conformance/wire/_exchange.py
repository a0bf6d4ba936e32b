"""One HTTP exchange with the endpoint, recorded as evidence (secrets already redacted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from conformance.wire._latency import ExchangeFigures, Timing, exchange_figures
from conformance.wire._sse import FramingProblem, ServerSentEvent

DONE = "[DONE]"
EVIDENCE_BODY_LIMIT = 64 * 1024  # bytes of a body kept for the report; the rest is marked cut
EVIDENCE_EVENTS_LIMIT = 200  # events of a stream kept for the report; the rest are counted
MAX_JSON_DEPTH = 100  # deeper JSON is not judged: a hostile body, and it would exhaust the stack
# Object members in one body or event: logprobs of 1,500 tokens with 20 alternatives each are
# ~96,000; a parse of 220,000 keys holds ~130 MB and takes a second, on every answer.
MAX_JSON_MEMBERS = 100_000


SMALL_MEMOS = frozenset({"cost"})  # memo keys whose values are a few numbers: never forgotten


class NotJudged(ValueError):
    """JSON too costly to judge (a ``ValueError``, as "not JSON" is): its checks are ERROR."""


class TooDeep(NotJudged):
    """JSON nested deeper than :data:`MAX_JSON_DEPTH`."""


class TooManyMembers(NotJudged):
    """JSON whose objects hold more than :data:`MAX_JSON_MEMBERS` members in all."""


class NotUtf8(ValueError):
    """Bytes of JSON in another encoding than UTF-8 (RFC 8259, section 8.1): never decoded."""


def json_text(body: bytes) -> str:
    """``body`` as the text of a JSON document: UTF-8, a leading byte order mark ignored
    (RFC 8259, section 8.1, allows that). Raises :class:`NotUtf8` for any other encoding,
    which ``json.loads`` would otherwise detect and decode silently."""
    encoding = json.detect_encoding(body)
    if encoding not in ("utf-8", "utf-8-sig"):
        name = encoding.upper().replace("-LE", "LE").replace("-BE", "BE")
        raise NotUtf8(
            f"the body is {name}, not UTF-8: JSON over HTTP must be UTF-8 (RFC 8259, "
            "section 8.1); not decoded"
        )
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8(
            f"the body is not UTF-8 (byte 0x{body[exc.start]:02x} at offset {exc.start}): JSON "
            "over HTTP must be UTF-8 (RFC 8259, section 8.1); not decoded"
        ) from None


def parse_json(text: str | bytes, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """``json.loads`` that never raises ``RecursionError``: JSON nested deeper than
    ``MAX_JSON_DEPTH`` raises :class:`TooDeep`, at any stack depth of the caller. Bytes
    must be UTF-8 (:func:`json_text`). ``parse_constant``: as ``json.loads``'s."""
    if isinstance(text, bytes):
        text = json_text(text)
    members = 0

    def counted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal members
        members += len(pairs)
        if members > MAX_JSON_MEMBERS:
            raise TooManyMembers(f"JSON with more than {MAX_JSON_MEMBERS} object members")
        return dict(pairs)

    try:
        if parse_constant is None and text.count(":") <= MAX_JSON_MEMBERS:
            # no more members than colons: json's shared decoder, not a new one (with its
            # reference cycles) per call, as any keyword argument makes
            value = json.loads(text)
        else:
            value = json.loads(text, object_pairs_hook=counted, parse_constant=parse_constant)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    depth, level = 0, [value]
    while level:  # breadth first, without recursion
        depth += 1
        if depth > MAX_JSON_DEPTH:
            raise TooDeep(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        nested: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                nested.extend(v for v in node.values() if isinstance(v, dict | list))
            elif isinstance(node, list):
                nested.extend(v for v in node if isinstance(v, dict | list))
        level = nested
    return value


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
    retry_wait_s: float = 0.0  # seconds waited before the retries, in all
    timing: Timing = field(default_factory=Timing)  # when the answer's parts arrived
    # Parses of what was received, made once per run however many checks ask (see ``memo``).
    _memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()``, once per exchange: checks share one parse of a body or stream.
        The exchange must not change after it is judged (it is evidence)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def figures(self) -> ExchangeFigures:
        """How fast this answer came: time to headers and first token, chunk gaps, rate."""
        data = self.data_events() if self.streamed else []
        return exchange_figures(self.timing, data, self.usage())

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased ("" when absent)."""
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def forget(self) -> None:
        """Drop the parses :meth:`memo` keeps (made again if asked for); small results
        derived from them (its token cost, why the body is too costly to judge) are kept
        (a ``JSONDecodeError`` is not: it holds the whole document)."""
        self._memo = {
            k: v for k, v in self._memo.items() if k in SMALL_MEMOS or isinstance(v, NotJudged)
        }

    def shed(self) -> None:
        """Keep only the evidence part of a body too costly to judge (:class:`NotJudged`:
        its parse is remembered as that error): a hostile endpoint answering every request
        with 4 MiB must not make the run hold all of them."""
        if self.streamed or len(self.body) <= EVIDENCE_BODY_LIMIT:
            return
        if isinstance(self._memo.get("json"), NotJudged):
            self.body, self.body_truncated = self.body[:EVIDENCE_BODY_LIMIT], True

    def json(self) -> Any:
        """The body parsed as JSON (once); raises ``ValueError`` when it is not JSON,
        :class:`TooDeep` when it is nested too deep to judge."""
        parsed = self.memo("json", self._parse_body)
        if isinstance(parsed, ValueError):
            raise parsed
        return parsed

    def _parse_body(self) -> Any:
        try:
            return parse_json(self.body)
        except ValueError as exc:
            return exc.with_traceback(None)  # kept: its frames need not be

    def event_payloads(self) -> list[tuple[ServerSentEvent, Any, ValueError | None]]:
        """Each data event with its data parsed as JSON (once), or why it is not JSON."""

        def parse() -> list[tuple[ServerSentEvent, Any, ValueError | None]]:
            out: list[tuple[ServerSentEvent, Any, ValueError | None]] = []
            for event in self.data_events():
                try:
                    out.append((event, parse_json(event.data), None))
                except ValueError as exc:
                    out.append((event, None, exc.with_traceback(None)))
            return out

        payloads: list[tuple[ServerSentEvent, Any, ValueError | None]] = self.memo("events", parse)
        return payloads

    def too_deep(self) -> str | None:
        """Why the body or an event is too costly to judge (nested too deep, too many
        members: :class:`NotJudged`), or None."""
        if self.streamed:
            for event, _, error in self.event_payloads():
                if isinstance(error, NotJudged):
                    return f"event {event.index} is {error}; not judged"
            return None
        try:
            self.json()
        except NotJudged as exc:
            return f"the body is {exc}; not judged"
        except ValueError:
            pass
        return None

    def error_event(self) -> tuple[int | None, str] | None:
        """The error a 2xx answer carried as its body or as an event of its stream
        (``{"error": {...}}`` and no ``choices``: vLLM and OpenRouter send one mid-stream when
        overloaded): (the event's index, None for a body; the error's message), or None."""
        if not self.ok:
            return None
        if self.streamed:
            found = ((e.index, p) for e, p, _ in self.event_payloads() if _is_error(p))
            index, payload = next(found, (None, None))
            return None if payload is None else (index, _error_message(payload))
        try:
            payload = self.json()
        except ValueError:
            return None
        return (None, _error_message(payload)) if _is_error(payload) else None

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
        for event, payload, error in self.event_payloads():
            for item in [payload] if error is None else _payloads(event.data):
                usage = item.get("usage") if isinstance(item, dict) else None
                if isinstance(usage, dict):
                    found = (usage, event.index)
        return found

    def usage(self) -> tuple[int, int] | None:
        """(prompt_tokens, completion_tokens) as the endpoint reported them, or None (also
        when they add up to more than :data:`MAX_PLAUSIBLE_TOKENS`: no count, a finding)."""
        reported = self.reported_usage()
        if reported is None:
            return None
        prompt = token_count(reported[0].get("prompt_tokens"))
        completion = token_count(reported[0].get("completion_tokens"))
        if prompt is None or completion is None or prompt + completion > MAX_PLAUSIBLE_TOKENS:
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
                **_evidence_events(self.events, body_limit),
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
            "timing": self.figures().to_dict(),
        }


def _evidence_events(events: list[ServerSentEvent], body_limit: int) -> dict[str, Any]:
    """The first events, up to ``EVIDENCE_EVENTS_LIMIT`` of them and about four times
    ``body_limit`` characters of data: results.json stays small whatever the stream was."""
    kept: list[dict[str, Any]] = []
    size = 0
    for e in events[:EVIDENCE_EVENTS_LIMIT]:
        size += len(e.data) + len(e.event) + len(e.id)
        if size > 4 * body_limit and kept:
            break
        kept.append({"index": e.index, "event": e.event, "id": e.id, "data": e.data[:body_limit]})
    out: dict[str, Any] = {"events": kept}
    if len(kept) < len(events):
        out["events_omitted"] = len(events) - len(kept)
    return out


def _is_error(payload: object) -> bool:
    return isinstance(payload, dict) and "error" in payload and "choices" not in payload


def _error_message(payload: dict[str, Any]) -> str:
    error = payload["error"]
    message = error.get("message") if isinstance(error, dict) else error
    return message if isinstance(message, str) else json.dumps(message)[:200]


def token_count(value: object) -> int | None:
    """``value`` when it is a token count: a non-negative integer (``true`` is not one)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


# Tokens one request can use, prompt and completion together: the largest context window
# offered is 10 million tokens. A count above it is no count (a finding; the budget estimates).
MAX_PLAUSIBLE_TOKENS = 10_000_000


def _payloads(data: str) -> list[Any]:
    """The JSON documents of an event's data that is not one JSON document: one per line,
    when several were glued into one event (a missing blank line); none that is not JSON."""
    out: list[Any] = []
    for line in data.split("\n"):
        try:
            out.append(parse_json(line))
        except ValueError:
            continue
    return out
