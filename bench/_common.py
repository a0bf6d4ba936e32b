"""Shared by the benchmarks: a realistic chunk and a stream of them."""

from __future__ import annotations

import json
from typing import Any


def chunk(index: int, *, final: bool = False) -> dict[str, Any]:
    """A ChatCompletionChunk as the reference server sends it (strict profile)."""
    delta: dict[str, Any] = {"role": "assistant", "content": f" word{index}"}
    return {
        "id": "chatcmpl-0123456789abcdef",
        "object": "chat.completion.chunk",
        "created": 1_735_689_600,
        "model": "conformance/reference-1",
        "system_fingerprint": "fp_0123456789",
        "service_tier": "default",
        "usage": None,
        "choices": [
            {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": "stop" if final else None,
            }
        ],
    }


def stream_bytes(count: int) -> bytes:
    parts = [
        b"data: " + json.dumps(chunk(i, final=i == count - 1)).encode() + b"\n\n"
        for i in range(count)
    ]
    parts.append(b"data: [DONE]\n\n")
    return b"".join(parts)
