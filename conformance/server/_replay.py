"""A replay server: answers every chat request with a recorded answer, byte for byte.

A recording is a pair of files as ``../shared/recorded/`` (beside the checkout) keeps them
(see its README): a ``*.chunks.txt`` holds one streamed chunk's JSON per line (the ``data:
`` prefix and the ``[DONE]`` terminator were not kept), a ``*.json`` a non-streamed body. A
request with ``stream: true`` is answered with the chunks as server-sent events (each line
as one ``data:`` event, then ``data: [DONE]``); any other request with the JSON body. A
missing half is answered 404 with an OpenAI error envelope, so a check judging it says so.

What is replayed is never edited: the point is to judge a provider's real answer. Used by
the tests that run the checks over recorded provider traffic, and reusable by any test that
needs "this provider's bytes" behind an ASGI transport.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

CHUNKS_SUFFIX = ".chunks.txt"
BODY_SUFFIX = ".json"


@dataclass(frozen=True)
class Recording:
    """One recorded exchange: its stream's chunk lines and/or its JSON body (raw bytes)."""

    name: str
    chunks: tuple[bytes, ...] | None = None
    body: bytes | None = None

    @classmethod
    def load(cls, directory: str | Path, name: str) -> Recording:
        """The recording ``name`` (e.g. ``groq--groq-text``) in ``directory``: its
        ``.chunks.txt`` and ``.json`` files, whichever exist (at least one must)."""
        base = Path(directory)
        stream_file = base / f"{name}{CHUNKS_SUFFIX}"
        body_file = base / f"{name}{BODY_SUFFIX}"
        if not stream_file.is_file() and not body_file.is_file():
            raise FileNotFoundError(
                f"recording {name!r}: neither {stream_file} nor {body_file} exists; "
                f"name a recording as its files are named, without {CHUNKS_SUFFIX} or "
                f"{BODY_SUFFIX}"
            )
        lines = (
            tuple(line for line in stream_file.read_bytes().splitlines() if line.strip())
            if stream_file.is_file()
            else None
        )
        return cls(
            name=name, chunks=lines, body=body_file.read_bytes() if body_file.is_file() else None
        )

    def sse(self) -> list[bytes]:
        """The stream as it went over the wire: one ``data:`` event per chunk, then
        ``data: [DONE]``."""
        return [b"data: " + line + b"\n\n" for line in self.chunks or ()] + [b"data: [DONE]\n\n"]


def recordings(directory: str | Path) -> list[str]:
    """The names of the recordings in ``directory``, sorted."""
    names = {
        p.name.removesuffix(CHUNKS_SUFFIX).removesuffix(BODY_SUFFIX)
        for p in Path(directory).iterdir()
        if p.name.endswith((CHUNKS_SUFFIX, BODY_SUFFIX))
    }
    return sorted(names)


def replay_app(recording: Recording) -> Starlette:
    """An ASGI app answering ``POST /v1/chat/completions`` with ``recording``."""

    async def chat(request: Request) -> Response:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            payload = None
        streamed = isinstance(payload, dict) and payload.get("stream") is True
        if streamed and recording.chunks is not None:
            events = recording.sse()

            async def send() -> AsyncIterator[bytes]:
                for event in events:
                    yield event

            return StreamingResponse(send(), media_type="text/event-stream")
        if not streamed and recording.body is not None:
            return Response(recording.body, media_type="application/json")
        half = "stream" if streamed else "non-streamed body"
        return JSONResponse(
            {
                "error": {
                    "message": f"recording {recording.name!r} has no {half}",
                    "type": "invalid_request_error",
                    "code": "not_recorded",
                }
            },
            status_code=404,
        )

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
