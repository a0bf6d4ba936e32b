"""Compressed answers: ``ServerConfig.gzip`` gzips every answer to a client that accepts
gzip (as a proxy in front of a real endpoint does), and the ``gzip-declared-plain`` defect
declares ``Content-Encoding: gzip`` on bytes it never compressed."""

from __future__ import annotations

import zlib
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from conformance.server._config import ServerConfig


def accepts_gzip(scope: Scope) -> bool:
    """Whether the request's Accept-Encoding lists gzip (with a q-value above 0)."""
    for name, value in scope.get("headers", []):
        if name.lower() != b"accept-encoding":
            continue
        for coding in value.decode("latin-1").lower().split(","):
            token, _, params = coding.partition(";")
            q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
            if token.strip() in ("gzip", "*") and q not in ("0", "0.0", "0.00", "0.000"):
                return True
    return False


class GzipEncoder:
    """ASGI middleware: compresses each body message as it goes (streams keep flowing: every
    piece is flushed), or with the defect only declares that it did."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self.app = app
        self.plain = config.has("gzip-declared-plain")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not accepts_gzip(scope):
            await self.app(scope, receive, send)
            return
        compressor: Any = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)  # a gzip wrapper

        async def encoded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if self.plain or k.lower() != b"content-length"  # the length changes
                ]
                headers += [(b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and not self.plain:
                more = bool(message.get("more_body", False))
                data = compressor.compress(message.get("body", b""))
                data += compressor.flush(zlib.Z_SYNC_FLUSH if more else zlib.Z_FINISH)
                message = {**message, "body": data}
            await send(message)

        await self.app(scope, receive, encoded)
