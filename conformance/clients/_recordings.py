"""Recorded provider answers (``*.chunks.txt``: one chunk's JSON per line, without ``data:``
or ``[DONE]``; ``*.json``: a body) as :class:`Exchange` s, to replay and to judge.

The SSE bytes of a chunks file are rebuilt as a provider sends them (``data: ...`` events and
the ``[DONE]`` terminator) and read by the suite's own SSE decoder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance.wire._exchange import Exchange, RecordedRequest
from conformance.wire._sse import SSEDecoder

EVENT_STREAM = "text/event-stream"
JSON = "application/json"


def sse_bytes(lines: list[str]) -> bytes:
    """The event stream a provider sent for these chunk lines."""
    return b"".join(f"data: {line}\n\n".encode() for line in lines) + b"data: [DONE]\n\n"


def recorded_exchange(path: Path) -> Exchange:
    """The exchange of one recording, named after its file. The request was not recorded: a
    plain one is assumed, with what the answer shows it asked for (streamed, the tools it
    calls, ``include_usage`` when chunks carry usage)."""
    text = path.read_text(encoding="utf-8")
    streamed = path.name.endswith(".chunks.txt")
    name = path.name.removesuffix(".chunks.txt").removesuffix(".json")
    lines = [line for line in text.splitlines() if line.strip()] if streamed else [text]
    tools = _called(lines)
    request: dict[str, Any] = {
        "model": "recorded",
        "messages": [{"role": "user", "content": "hi"}],
        **({"stream": True} if streamed else {}),
        **({"tools": tools} if tools else {}),
        **({"stream_options": {"include_usage": True}} if streamed and _usage(lines) else {}),
    }
    exchange = Exchange(
        id=f"{name}{'.stream' if streamed else ''}",
        request=RecordedRequest("POST", "recorded", {}, request),
        status=200,
        headers={"content-type": EVENT_STREAM if streamed else JSON},
        streamed=streamed,
    )
    if not streamed:
        exchange.body = text.encode()
        return exchange
    exchange.body = sse_bytes(lines)
    decoder = SSEDecoder()
    exchange.events = decoder.feed(exchange.body) + decoder.close()
    exchange.framing = list(decoder.problems)
    return exchange


def recordings(directory: Path) -> list[Exchange]:
    """Every recording in ``directory``, in name order."""
    files = sorted(directory.glob("*.chunks.txt")) + sorted(directory.glob("*.json"))
    return [recorded_exchange(p) for p in sorted(files)]


def _called(lines: list[str]) -> list[dict[str, Any]]:
    """The tools the request must have declared: every function the answer calls (a client
    refuses a call to a tool it was not given), taking any arguments."""
    names: list[str] = []
    for line in lines:
        try:
            payload = json.loads(line)
        except ValueError:
            continue
        for choice in payload.get("choices") or [] if isinstance(payload, dict) else []:
            part = (
                (choice.get("delta") or choice.get("message")) if isinstance(choice, dict) else None
            )
            for call in (part or {}).get("tool_calls") or [] if isinstance(part, dict) else []:
                function = call.get("function") if isinstance(call, dict) else None
                name = function.get("name") if isinstance(function, dict) else None
                if isinstance(name, str) and name and name not in names:
                    names.append(name)
    return [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in names
    ]


def _usage(lines: list[str]) -> bool:
    """True when a chunk carries usage: the request asked for it (``include_usage``)."""
    for line in lines:
        try:
            payload = json.loads(line)
        except ValueError:
            continue
        if isinstance(payload, dict) and isinstance(payload.get("usage"), dict):
            return True
    return False
