"""Keep secrets (the API key) out of everything recorded: evidence, reports, logs, errors.

Besides the secret as written, its JSON-escaped and percent-encoded spellings are replaced too,
since a server may echo the key inside a JSON string or a URL.
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
        spellings: set[str] = set()
        for secret in secrets:
            if secret is None or len(secret) < MIN_SECRET_LENGTH:
                continue
            spellings.add(secret)
            spellings.add(json.dumps(secret)[1:-1])
            spellings.add(quote(secret, safe=""))
        # Longest first, so a secret that contains another is replaced whole.
        ordered = sorted(spellings, key=lambda s: (-len(s), s))
        self._secrets = tuple(ordered)
        self._encoded = tuple(s.encode("utf-8") for s in ordered)
        self._text_re = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._bytes_re = re.compile(b"|".join(map(re.escape, self._encoded))) if ordered else None

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
        for secret in self._encoded:
            for length in range(min(len(secret) - 1, len(out)), MIN_SECRET_LENGTH - 1, -1):
                if out.endswith(secret[:length]):
                    out = out[:-length]
                    break
        return out

    def headers(self, h: Mapping[str, str]) -> dict[str, str]:
        """Lower-case names; credential headers keep at most their scheme word."""
        out: dict[str, str] = {}
        for name, value in h.items():
            key = name.lower()
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
