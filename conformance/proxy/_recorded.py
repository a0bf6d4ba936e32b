"""Recorded traffic read back for ``conformance judge``: HAR files (browser devtools,
mitmproxy, Charles), the proxy's ``--record`` JSONL, raw SSE transcripts, a chunk transcript
(one chunk's JSON per line, the ``data:`` prefix and the ``[DONE]`` terminator not kept), and
a single non-streamed response body.

Each entry becomes an ``Exchange`` by the same path as the proxy's (``_observe.from_bytes``);
an entry that cannot be read is one line in ``Unreadable`` (file, entry, why), the rest are
judged. A recording without the request (a transcript, a body) is judged as an answer to a
minimal request for the model it names (streamed when it is a stream).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.proxy._observe import from_bytes, is_chat
from conformance.wire._exchange import Exchange

MAX_FILE_BYTES = 512 * 1024 * 1024  # a recording larger than this is refused, not read


@dataclass(frozen=True)
class Unreadable:
    file: str
    entry: str
    why: str

    def line(self) -> str:
        return f"{self.file}: {self.entry}: {self.why}"


Read = Exchange | Unreadable


def read(path: Path) -> Iterator[Read]:
    """Every exchange recorded in ``path``, or why an entry (or the file) is unreadable."""
    name = str(path)
    try:
        if not path.is_file():
            yield Unreadable(name, "file", "not a regular file")
            return
        if path.stat().st_size > MAX_FILE_BYTES:
            yield Unreadable(name, "file", f"larger than {MAX_FILE_BYTES} bytes; not read")
            return
        raw = path.read_bytes()
    except OSError as exc:
        yield Unreadable(name, "file", exc.strerror or str(exc))
        return
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff")
    whole = _json(text)
    if isinstance(whole, dict) and isinstance(whole.get("log"), dict):
        yield from _har(name, whole["log"])
    elif (
        isinstance(whole, dict)
        and "request" not in whole
        and ("choices" in whole or "error" in whole)
    ):
        yield _answer(name, "body", raw, streamed=False, model=whole.get("model"))
    elif _first_line(text).startswith(("data:", "event:", "id:", ":")):
        yield _answer(name, "transcript", raw, streamed=True, model=None)
    else:
        yield from _lines(name, text)


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _request(model: Any, *, streamed: bool) -> bytes:
    body: dict[str, Any] = {"model": model if isinstance(model, str) else "unknown"}
    body["messages"] = [{"role": "user", "content": "(not recorded)"}]
    if streamed:
        body["stream"] = True
    return json.dumps(body).encode("utf-8")


def _answer(name: str, entry: str, body: bytes, *, streamed: bool, model: Any) -> Exchange:
    kind = "text/event-stream" if streamed else "application/json"
    if streamed and model is None:
        model = _stream_model(body)
    return from_bytes(
        f"{Path(name).name}#{entry}",
        url=name,
        request_body=_request(model, streamed=streamed),
        status=200,
        headers={"content-type": kind},
        body=body,
    )


def _stream_model(body: bytes) -> Any:
    for line in body.decode("utf-8", errors="replace").splitlines():
        if line.startswith("data:"):
            chunk = _json(line[5:].strip())
            if isinstance(chunk, dict) and isinstance(chunk.get("model"), str):
                return chunk["model"]
    return None


def _lines(name: str, text: str) -> Iterator[Read]:
    """JSON per line: the proxy's records, or one stream's chunks (a chunk transcript)."""
    chunks: list[str] = []
    model: Any = None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    parsed = [(n, line, _json(line)) for n, line in lines]
    if not any(isinstance(value, dict) for _, _, value in parsed):
        yield Unreadable(
            name,
            "file",
            "not a recording (a HAR file, the proxy's JSONL, an SSE transcript, one chunk's "
            "JSON per line, or a response body)",
        )
        return
    for number, line, value in parsed:
        if isinstance(value, dict) and "request" in value and "response" in value:
            yield _record(name, number, value)
        elif isinstance(value, dict) and ("choices" in value or "object" in value):
            chunks.append(line.strip())
            model = model or value.get("model")
        else:
            yield Unreadable(name, f"line {number}", "neither a recorded exchange nor a chunk")
    if chunks:
        stream = "".join(f"data: {c}\n\n" for c in chunks) + "data: [DONE]\n\n"
        yield _answer(name, "chunks", stream.encode("utf-8"), streamed=True, model=model)


def _record(name: str, number: int, line: dict[str, Any]) -> Read:
    entry = f"line {number}"
    if line.get("bodies") is False:
        return Unreadable(name, entry, "recorded without --keep-bodies: nothing to judge")
    request, response = line.get("request"), line.get("response")
    if not isinstance(request, dict):
        return Unreadable(name, entry, "no request object")
    sent = request.get("body")
    sent_bytes = sent.encode("utf-8") if isinstance(sent, str) else json.dumps(sent).encode()
    error = line.get("error") if isinstance(line.get("error"), str) else None
    headers = _strings(request.get("headers"))
    exchange_id = str(line.get("id") or entry)
    method, url = str(request.get("method", "POST")), str(request.get("url", ""))
    if response is None:
        status, body, answer = None, b"", {}
        error = error or "no response was recorded"
    elif not isinstance(response, dict):
        return Unreadable(name, entry, "the response is not an object")
    else:
        read_status, body = _status_and_body(response)
        if isinstance(read_status, str):
            return Unreadable(name, entry, read_status)
        status, answer = read_status, _strings(response.get("headers"))
    return from_bytes(
        exchange_id,
        method=method,
        url=url,
        request_headers=headers,
        request_body=sent_bytes,
        status=status,
        headers=answer,
        body=body,
        ended=error is None,
        error=error,
    )


def _status_and_body(response: dict[str, Any]) -> tuple[int | str, bytes]:
    """The recorded status and body, or why they cannot be read (a text instead of a status)."""
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        return f"the response status {status!r} is not a number", b""
    try:
        if isinstance(response.get("body_base64"), str):
            return status, base64.b64decode(response["body_base64"], validate=True)
    except ValueError:
        return "body_base64 is not base64", b""
    return status, str(response.get("body") or "").encode("utf-8")


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _pairs(value: Any) -> dict[str, str]:
    """HAR's ``[{"name": ..., "value": ...}]`` as one string per lower-case name."""
    out: dict[str, str] = {}
    for item in value if isinstance(value, list) else []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            key = item["name"].lower()
            if key.startswith(":"):  # HTTP/2 pseudo-headers
                continue
            out[key] = (out[key] + ", " if key in out else "") + str(item.get("value", ""))
    return out


def _har(name: str, log: dict[str, Any]) -> Iterator[Read]:
    entries = log.get("entries")
    if not isinstance(entries, list):
        yield Unreadable(name, "log", "a HAR log without entries")
        return
    for number, item in enumerate(entries):
        entry = f"entry {number}"
        if not isinstance(item, dict) or not isinstance(item.get("request"), dict):
            yield Unreadable(name, entry, "no request object")
            continue
        request = item["request"]
        url = str(request.get("url", ""))
        if not is_chat(str(request.get("method", "POST")), urlsplit(url).path):
            continue  # not a chat completion: not judged (a page, an asset, /v1/models, a GET)
        yield _har_entry(name, number, url, request, item.get("response"))


def _har_entry(name: str, number: int, url: str, request: dict[str, Any], response: Any) -> Read:
    entry = f"entry {number}"
    post = request.get("postData")
    sent = post.get("text") if isinstance(post, dict) else None
    content = response.get("content") if isinstance(response, dict) else None
    text = content.get("text") if isinstance(content, dict) else None
    if not isinstance(response, dict) or not isinstance(content, dict) or not isinstance(text, str):
        return Unreadable(name, entry, "the response body was not recorded")
    status = response.get("status")
    if not isinstance(status, int) or isinstance(status, bool):
        return Unreadable(name, entry, f"the response status {status!r} is not a number")
    try:
        body = (
            base64.b64decode(text, validate=True)
            if content.get("encoding") == "base64"
            else text.encode("utf-8")
        )
    except ValueError:
        return Unreadable(name, entry, "the response body is not valid base64")
    headers = _pairs(response.get("headers"))
    headers.pop("content-encoding", None)  # HAR keeps the decoded text
    headers.pop("content-length", None)
    if "content-type" not in headers and isinstance(content.get("mimeType"), str):
        headers["content-type"] = content["mimeType"]
    return from_bytes(
        f"{Path(name).name}#{number}",
        method=str(request.get("method", "POST")),
        url=url,
        request_headers=_pairs(request.get("headers")),
        request_body=str(sent or "").encode("utf-8"),
        status=status,
        headers=headers,
        body=body,
    )
