"""Finding a key in an output, however it is spelled: the canary scanner of tests/live."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from urllib.parse import unquote

from tests.live.hostile import KEY


def decoded(text: str) -> Iterator[str]:
    """``text`` and what it says once JSON escapes, HTML entities and percent-encoding are
    undone (repeatedly: results.json holds bodies that are JSON themselves)."""
    yield text
    for _ in range(3):
        text = re.sub(r"\\+u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
        text = unquote(html.unescape(text))
        yield text


ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
BASE64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{16,}")


def spelled(data: bytes) -> Iterator[bytes]:
    """``data`` and every reading of it that could show the key: as text in UTF-8 and (when
    it holds NULs) UTF-16/32 at every alignment, each with escapes, entities and
    percent-encoding undone; and every run of base64 in it, decoded at every alignment."""
    yield data
    texts = [data.decode("utf-8", errors="replace")]
    if b"\x00" in data:
        for encoding in ENCODINGS[1:]:
            width = 2 if "16" in encoding else 4
            texts += [data[at:].decode(encoding, errors="replace") for at in range(width)]
    for text in texts:
        for form in decoded(text):
            yield form.encode("utf-8", errors="surrogatepass")
    for run in BASE64_RUN.findall(data):
        for at in range(4):
            piece = run[at:]
            piece += b"=" * (-len(piece) % 4)  # a cut last group decodes to its whole bytes
            for alphabet in (None, b"-_"):
                try:
                    yield base64.b64decode(piece, altchars=alphabet)
                except ValueError:
                    continue


def assert_no_key(*outputs: str | bytes, key: str = KEY) -> None:
    """``key`` in none of ``outputs``, in any encoding, escaped or encoded (any case)."""
    wanted = [key.lower().encode(encoding) for encoding in ENCODINGS]
    for output in outputs:
        data = output.encode("utf-8", errors="surrogatepass") if isinstance(output, str) else output
        for form in spelled(data):
            lowered = form.lower()
            assert not [w for w in wanted if w in lowered], form[:200]
