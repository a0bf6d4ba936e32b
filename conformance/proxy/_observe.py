"""One observed exchange, from the bytes that passed: what the proxy tee recorded, or what a
recording (HAR, the proxy's JSONL, an SSE transcript) holds.

The same bounds as a run's reader (``wire/_reader``): at most ``MAX_BODY_BYTES`` of a body
kept and decoded (past it the exchange is inconclusive and only a glimpse is kept), at most
``MAX_EVENTS`` events; the same SSE decoder (every framing problem), the same
Content-Encoding rules (``wire/_decoding``), and the same redaction: the application's own
key (its ``Authorization``, ``api-key`` or ``x-api-key``) is removed from everything kept.
More than a run's reader, since the requests are the application's (a HAR carries its
cookies, a gateway its own keys): of the request headers only those in ``KEPT_HEADERS``
keep their value, the URL keeps no userinfo and no query value, and the values of
credential-looking headers, query parameters and the URL's password are removed wherever
they are echoed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from conformance.wire._client import MAX_BODY_BYTES
from conformance.wire._decoding import BodyDecoder
from conformance.wire._exchange import Exchange, RecordedRequest, parse_json
from conformance.wire._reader import EVENT_STREAM, MAX_EVENTS, OVER_CAP_KEPT
from conformance.wire._redact import REDACTED, SECRET_HEADERS, Redactor
from conformance.wire._sse import UNTERMINATED, SSEDecoder

CHAT_PATH = "/chat/completions"


# Request headers whose values are kept as sent (a check or a reader may want them); every
# other value is replaced with the redaction marker.
KEPT_HEADERS = frozenset(
    {"content-type", "accept", "accept-encoding", "user-agent", "content-length"}
)
KEPT_PREFIXES = ("openai-", "x-stainless-")
# A header or query parameter with one of these in its name holds a credential: its value
# is a secret, removed wherever it appears (a cookie, cf-aig-authorization, helicone-auth).
CREDENTIAL_WORDS = ("auth", "key", "token", "secret", "cookie", "session", "password", "sig")


def _credential(name: str) -> bool:
    return any(word in name.lower() for word in CREDENTIAL_WORDS)


def secrets_of(headers: Mapping[str, str], url: str = "") -> list[str]:
    """The credentials an application sent: a bearer token, an ``api-key``/``x-api-key``, any
    credential-looking header (a cookie, a gateway's key), the password in ``url`` and the
    values of its credential-looking query parameters."""
    out: list[str] = []
    for name, value in headers.items():
        key = name.lower()
        if key in ("authorization", "proxy-authorization"):
            scheme, _, token = value.partition(" ")
            out.append(token.strip() if token.strip() else scheme)
        elif key in SECRET_HEADERS or _credential(key):
            out.append(value.strip())
            if key == "cookie":
                out.extend(c.partition("=")[2].strip() for c in value.split(";"))
    parts = urlsplit(url)
    if parts.password:
        out += [parts.password, unquote(parts.password)]
    for pair in parts.query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and _credential(unquote(name)):
            out += [value, unquote(value)]
    return [s for s in out if s]


def public_request_headers(headers: Mapping[str, str], redact: Redactor) -> dict[str, str]:
    """The request headers to keep: lower-case names, a value only for ``KEPT_HEADERS`` (and
    the scheme word of an ``Authorization``), every other value the redaction marker."""
    out = redact.headers(headers)
    for key in out:
        kept = key in KEPT_HEADERS or key.startswith(KEPT_PREFIXES)
        if not kept and key not in SECRET_HEADERS:  # those: done by redact.headers
            out[key] = REDACTED
    return out


def public_request_url(url: str) -> str:
    """``url`` without its userinfo and with every query value the redaction marker (the
    parameter names kept)."""
    parts = urlsplit(url)
    if not parts.netloc and not parts.query:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    query = "&".join(
        f"{name}={REDACTED}" if eq else name
        for name, eq, _ in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def is_chat(method: str, path: str) -> bool:
    """True for the chat-completions operation, whatever the prefix (``/v1``, a gateway's):
    a POST only (``GET /v1/chat/completions`` lists stored completions; not one to judge)."""
    return method.upper() == "POST" and path.split("?", 1)[0].rstrip("/").endswith(CHAT_PATH)


def request_json(raw: bytes) -> Any:
    """The request body as JSON, or as text when it is not JSON (judged as sent)."""
    try:
        return parse_json(raw)
    except ValueError:
        return raw.decode("utf-8", errors="replace")


@dataclass
class Recorded:
    """What passed through for one exchange: the response's raw pieces (as received, up to
    the cap) with the time each arrived, and how the exchange ended."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    pieces: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # seconds after the request, per piece
    headers_s: float | None = None
    size: int = 0  # bytes received, kept or not
    ended: bool = False  # the body was read to its end
    error: str | None = None  # why it did not end: upstream broke, the client left
    elapsed_s: float = 0.0

    def take(self, piece: bytes, at: float) -> None:
        """Keep ``piece`` while the body is within the cap (past it: counted, not kept)."""
        if self.size <= MAX_BODY_BYTES:
            self.pieces.append(piece)
            self.times.append(at)
        self.size += len(piece)


def build(recorded: Recorded, exchange_id: str) -> Exchange:
    """Our ``Exchange`` of ``recorded``: decoded, bounded and redacted as a run's reader does."""
    redact = Redactor(secrets_of(recorded.request_headers, recorded.url))
    headers = {k.lower(): v for k, v in recorded.headers.items()}
    exchange = Exchange(
        id=exchange_id,
        request=RecordedRequest(
            method=recorded.method,
            url=redact.text(public_request_url(recorded.url)),
            headers=public_request_headers(recorded.request_headers, redact),
            body=redact.json(request_json(recorded.request_body)),
        ),
        status=recorded.status,
        headers=redact.headers(headers),
        elapsed_s=recorded.elapsed_s,
    )
    exchange.timing.headers_s = recorded.headers_s
    if recorded.status is None:
        exchange.error = redact.text(recorded.error or "no response from the upstream")
        return exchange
    kind = headers.get("content-type", "").split(";")[0].strip().lower()
    decoder = BodyDecoder(headers.get("content-encoding", ""))
    sse = SSEDecoder() if kind == EVENT_STREAM else None
    kept: list[bytes] = []
    size = 0
    error = recorded.error
    for piece, at in zip(recorded.pieces, recorded.times, strict=True):
        for out in decoder.decode_piece(piece):
            room = MAX_BODY_BYTES - size
            size += len(out)
            kept.append(out)
            if sse is not None and room > 0:
                events = sse.feed(out[:room])
                exchange.events.extend(events)
                exchange.timing.event_s.extend([at] * len(events))
        if size > MAX_BODY_BYTES or recorded.size > MAX_BODY_BYTES:
            error = error or f"body exceeded {MAX_BODY_BYTES} bytes; stopped reading"
            break
        if len(exchange.events) > MAX_EVENTS:
            del exchange.events[MAX_EVENTS:]
            del exchange.timing.event_s[MAX_EVENTS:]
            error = error or f"stream exceeded {MAX_EVENTS} events; stopped reading"
            break
    ended = recorded.ended and error is None
    if ended:
        decoder.close()
    exchange.decoding = decoder.problem
    body = b"".join(kept)
    limit = MAX_BODY_BYTES if size <= MAX_BODY_BYTES else OVER_CAP_KEPT
    exchange.body = redact.cut_bytes(body, limit)
    exchange.body_truncated = len(body) > limit
    if sse is not None:
        exchange.streamed = True
        sse.close()
        problems = sse.problems if ended else [p for p in sse.problems if p.title != UNTERMINATED]
        exchange.framing = [
            replace(p, title=redact.text(p.title), detail=redact.text(p.detail)) for p in problems
        ]
        if redact:
            exchange.events = [
                replace(e, data=redact.text(e.data), raw=redact.text(e.raw), id=redact.text(e.id))
                for e in exchange.events
            ]
    if error is not None:
        exchange.error = redact.text(error)
    return exchange


def from_bytes(
    exchange_id: str,
    *,
    method: str = "POST",
    url: str = "",
    request_headers: Mapping[str, str] | None = None,
    request_body: bytes = b"",
    status: int | None,
    headers: Mapping[str, str],
    body: bytes | Sequence[bytes],
    ended: bool = True,
    error: str | None = None,
    elapsed_s: float = 0.0,
) -> Exchange:
    """An exchange from a recording: the same path as the proxy's (``build``)."""
    pieces = [body] if isinstance(body, bytes) else list(body)
    recorded = Recorded(
        method=method,
        url=url,
        request_headers=dict(request_headers or {}),
        request_body=request_body,
        status=status,
        headers=dict(headers),
        ended=ended,
        error=error,
        elapsed_s=elapsed_s,
    )
    for piece in pieces:
        recorded.take(piece, 0.0)
    return build(recorded, exchange_id)
