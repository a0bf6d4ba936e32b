"""What is written of observed traffic without ``--keep-bodies``: the shape, not the words.

Prompts and completions are the application's users' data: the evidence keeps every field
(ids, roles, finish_reason, usage, tool names, the event framing) with the text of each
``content``, ``reasoning_content``, ``refusal``, tool-call ``arguments`` and text part
replaced by how long it was. Findings quote only the field they are about (redacted).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

from conformance.wire._exchange import Exchange, RecordedRequest, parse_json

PRIVATE = frozenset({"content", "reasoning_content", "reasoning", "refusal", "arguments", "text"})


def _hidden(value: str) -> str:
    return f"[{len(value)} characters not kept]"


def scrub(value: Any, key: str = "") -> Any:
    """``value`` with the text of its private fields replaced by their length."""
    if isinstance(value, dict):
        return {k: scrub(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, key) for v in value]
    if isinstance(value, str) and key in PRIVATE:
        return _hidden(value)
    return value


def _scrub_text(text: str) -> str:
    try:
        return json.dumps(scrub(parse_json(text)), ensure_ascii=False)
    except ValueError:
        return text if text == "[DONE]" else _hidden(text)


def private(exchange: Exchange) -> Exchange:
    """A copy of ``exchange`` without prompts and completions (the shape kept)."""
    request = exchange.request
    body = exchange.body
    if body and not exchange.streamed:
        with contextlib.suppress(ValueError):  # not JSON (an error page): kept as evidence
            body = json.dumps(scrub(parse_json(body)), ensure_ascii=False).encode("utf-8")
    elif body:
        body = "".join(f"data: {_scrub_text(e.data)}\n\n" for e in exchange.events).encode("utf-8")
    return replace(
        exchange,
        request=RecordedRequest(
            method=request.method,
            url=request.url,
            headers=dict(request.headers),
            body=scrub(request.body)
            if not isinstance(request.body, str)
            else _hidden(request.body),
        ),
        body=body,
        events=[replace(e, data=_scrub_text(e.data), raw="") for e in exchange.events],
    )


def features_of(body: Any) -> list[str]:
    """The features a request used, for the counts on the report's card."""
    if not isinstance(body, dict):
        return ["(not a JSON object)"]
    out: list[str] = []
    if body.get("stream") is True:
        out.append("stream")
        options = body.get("stream_options")
        if isinstance(options, dict) and options.get("include_usage") is True:
            out.append("stream usage")
    out += _tool_features(body)
    response_format = body.get("response_format")
    if isinstance(response_format, dict):
        out.append(f"response_format {response_format.get('type')}")
    if body.get("logprobs"):
        out.append("logprobs")
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        out.append("n > 1")
    out += [
        name
        for name in ("stop", "seed", "reasoning_effort", "max_tokens", "max_completion_tokens")
        if body.get(name) is not None
    ]
    return out + _message_features(body.get("messages"))


def _tool_features(body: dict[str, Any]) -> list[str]:
    out = ["tools"] if body.get("tools") else []
    choice = body.get("tool_choice")
    if choice is not None:
        out.append(f"tool_choice {choice if isinstance(choice, str) else 'named'}")
    if body.get("parallel_tool_calls") is not None:
        out.append("parallel_tool_calls")
    return out


def _message_features(messages: Any) -> list[str]:
    if not isinstance(messages, list):
        return []
    out = []
    if any(isinstance(m, dict) and m.get("role") == "tool" for m in messages):
        out.append("tool results")
    if any(isinstance(m, dict) and isinstance(m.get("content"), list) for m in messages):
        out.append("content parts")
    return out
