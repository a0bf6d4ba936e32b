"""Keep secrets (the API key) out of everything recorded: evidence, reports, logs, errors.

Every spelling that decodes to the secret is replaced, in any letter case: each character may
be written as itself, as a JSON escape (``\\u0073``, ``\\"``) or percent-encoded (``%73``),
since a hostile server may echo the key escaped so that it leaks once decoded. Bytes are
also searched for those spellings in UTF-16 and UTF-32 (either byte order): a body in such an
encoding is not JSON we decode (RFC 8259 wants UTF-8), but it is kept as evidence, and a
browser or a terminal would show the key in it. Redact every string that is rendered
(findings, reasons, header names), not only the raw bytes.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 4  # shorter strings would redact ordinary text and hide nothing
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})
_SCHEMES = frozenset({"authorization", "proxy-authorization"})  # values are "<scheme> <token>"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9._~+-]{0,19})\s+\S")
# The encodings besides UTF-8 that a body may be written in (RFC 4627 allowed them all).
WIDE_ENCODINGS = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


class Redactor:
    """Replaces every occurrence of the given secrets with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        kept = {s for s in secrets if s is not None and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(kept, key=lambda s: (-len(s), s))
        self._secrets = tuple(ordered)
        encodings = ("utf-8", *WIDE_ENCODINGS)
        self._encoded = tuple(s.lower().encode(e) for s in ordered for e in encodings)
        pattern = "|".join("".join(_spellings(c) for c in s) for s in ordered)
        flags = re.IGNORECASE | re.DOTALL
        self._text_re = re.compile(pattern, flags) if ordered else None
        self._bytes_re = re.compile(pattern.encode("utf-8"), flags) if ordered else None
        # (pattern, replacement) per wide encoding: the same spellings, each encoded
        self._wide = tuple(
            (re.compile(b"|".join(_wide_pattern(s, e) for s in ordered), flags),
             REDACTED.encode(e))
            for e in WIDE_ENCODINGS
        ) if ordered else ()  # fmt: skip
        # A wide spelling of an ASCII character holds a NUL byte: bodies without one are
        # searched for the UTF-8 spellings alone.
        self._always_wide = any(not s.isascii() for s in ordered)

    def __bool__(self) -> bool:
        """False when there is nothing to redact."""
        return bool(self._secrets)

    def text(self, s: str) -> str:
        if self._text_re is None:
            return s
        return self._text_re.sub(REDACTED, s)

    def bytes(self, b: builtins.bytes) -> builtins.bytes:
        if self._bytes_re is None:
            return b
        b = self._bytes_re.sub(REDACTED.encode("ascii"), b)
        if self._always_wide or b"\x00" in b:
            for pattern, replacement in self._wide:
                b = pattern.sub(replacement, b)
        return b

    def cut_bytes(self, b: builtins.bytes, limit: int) -> builtins.bytes:
        """The first ``limit`` bytes of ``b``, redacted, without a partial secret at the end.

        A cut can fall inside a secret; the piece of it before the cut is dropped too.
        """
        out = self.bytes(b[:limit])
        tail = out[-max((len(s) for s in self._encoded), default=0) :].lower()
        for secret in self._encoded:
            for length in range(min(len(secret) - 1, len(tail)), MIN_SECRET_LENGTH - 1, -1):
                if tail.endswith(secret[:length]):
                    out = out[:-length]
                    break
        return out

    def headers(self, h: Mapping[str, str]) -> dict[str, str]:
        """Lower-case names; credential headers keep at most their scheme word."""
        out: dict[str, str] = {}
        for name, value in h.items():
            key = self.text(name.lower())  # a hostile server may put the key in a name
            if key in SECRET_HEADERS:
                scheme = _SCHEME.match(value) if key in _SCHEMES else None
                out[key] = f"{scheme.group(1)} {REDACTED}" if scheme else REDACTED
            else:
                out[key] = self.text(value)
        return out

    def json(self, value: object) -> object:
        """A JSON-like value (dicts, lists, strings...) with every string redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                self.text(k) if isinstance(k, str) else k: self.json(v) for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value


def _forms(char: str) -> set[str]:
    """``char`` in either letter case, as written, JSON-escaped or percent-encoded (the
    hex digits of an escape are matched in any case; the letter it stands for is not)."""
    forms: set[str] = set()
    for one in {char, char.lower(), char.upper()}:
        if len(one) != 1:
            continue  # "ß".upper() is "SS": not one character
        forms |= {one, json.dumps(one)[1:-1], quote(one, safe="")}
        if one == "/":
            forms.add("\\/")  # JSON may escape a solidus
        if ord(one) < 0x10000:
            forms.add(f"\\u{ord(one):04x}")
        if ord(one) < 0x80:
            forms.add(f"%{ord(one):02x}")
    return forms


def _spellings(char: str) -> str:
    """A regex matching ``char`` in any of its :func:`_forms` (any case)."""
    forms = sorted(map(re.escape, _forms(char)), key=lambda f: (-len(f), f))
    return "(?:" + "|".join(forms) + ")"


def _wide_pattern(secret: str, encoding: str) -> builtins.bytes:
    """A bytes regex matching ``secret`` spelled as :func:`_spellings` does, every form
    encoded in ``encoding``."""
    out = []
    for char in secret:
        forms = sorted((f.encode(encoding) for f in _forms(char)), key=lambda f: (-len(f), f))
        out.append(b"(?:" + b"|".join(map(re.escape, forms)) + b")")
    return b"".join(out)
