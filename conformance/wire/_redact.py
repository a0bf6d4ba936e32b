"""Keep secrets (the API key) out of everything recorded: evidence, reports, logs, errors.

Every spelling that decodes to the secret is replaced, in any letter case: each character may
be written as itself, as a JSON escape (``\\u0073``, ``\\"``) or percent-encoded (``%73``),
since a hostile server may echo the key escaped so that it leaks once decoded. Redact every
string that is rendered (findings, reasons, header names), not only the raw bytes.
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


class Redactor:
    """Replaces every occurrence of the given secrets with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        kept = {s for s in secrets if s is not None and len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(kept, key=lambda s: (-len(s), s))
        self._secrets = tuple(ordered)
        self._encoded = tuple(s.lower().encode("utf-8") for s in ordered)
        pattern = "|".join("".join(_spellings(c) for c in s) for s in ordered)
        flags = re.IGNORECASE | re.DOTALL
        self._text_re = re.compile(pattern, flags) if ordered else None
        self._bytes_re = re.compile(pattern.encode("utf-8"), flags) if ordered else None

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
        return self._bytes_re.sub(REDACTED.encode("ascii"), b)

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


def _spellings(char: str) -> str:
    """A regex matching ``char`` as written, JSON-escaped or percent-encoded (any case)."""
    forms = {char, json.dumps(char)[1:-1], quote(char, safe="")}
    if char == "/":
        forms.add("\\/")  # JSON may escape a solidus
    if ord(char) < 0x10000:
        forms.add(f"\\u{ord(char):04x}")
    if ord(char) < 0x80:
        forms.add(f"%{ord(char):02x}")
    return "(?:" + "|".join(sorted(map(re.escape, forms), key=lambda f: (-len(f), f))) + ")"
