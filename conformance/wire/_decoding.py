"""Undoing the Content-Encoding the client asks for, piece by piece, and saying when a body
does not decode as its header declares."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

ACCEPT_ENCODING = "gzip, deflate"  # what BodyDecoder undoes
INFLATE_STEP = 256 * 1024  # bytes inflated per step; the reader's cap is checked between steps


class BodyDecoder:
    """Undoes the Content-Encoding we asked for (``ACCEPT_ENCODING``), piece by piece.

    A body that does not decode as declared is kept as received from that point, and
    ``problem`` says why: the checks judge what came (often plain bytes mislabelled gzip)
    and ``gzip_decoded`` reports the label, instead of the exchange being lost.
    """

    def __init__(self, declared: str) -> None:
        self.declared = declared.strip().lower()
        self.problem: str | None = None
        self._zlib: Any = None
        if self.declared in ("gzip", "x-gzip", "deflate"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        elif self.declared not in ("", "identity"):
            self.problem = (
                f"Content-Encoding {declared!r} was not asked for "
                f"(Accept-Encoding: {ACCEPT_ENCODING}); the body is kept as received"
            )

    async def decode(self, pieces: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        async for piece in pieces:
            for out in self.decode_piece(piece):
                yield out

    def decode_piece(self, piece: bytes) -> Iterator[bytes]:
        """One received piece, decoded (the same rules for bytes recorded earlier)."""
        if self._zlib is None:
            yield piece
            return
        try:
            # Inflated a slice at a time: a reader that stops at its cap stops the
            # inflating too, so a small bomb never expands whole in memory.
            out = self._zlib.decompress(piece, INFLATE_STEP)
            while True:
                yield out
                tail = self._zlib.unconsumed_tail
                if not tail:
                    break
                out = self._zlib.decompress(tail, INFLATE_STEP)
        except zlib.error as exc:
            self.problem = (
                f"the body declared Content-Encoding: {self.declared} but is not "
                f"{self.declared} data ({exc}); the rest is kept as received"
            )
            self._zlib = None
            yield piece

    def close(self) -> None:
        """The body ended: a compressed stream must have ended too."""
        if self._zlib is not None and not self._zlib.eof:
            self.problem = (
                f"the body declared Content-Encoding: {self.declared} but its "
                f"{self.declared} data ended before the end of the compressed stream"
            )
