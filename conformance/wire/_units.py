"""Durations and rates as users write them: ``300ms``, ``1.5s``, ``2m``; ``60/m``, ``5/s``."""

from __future__ import annotations

import re

from conformance._errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(ms|s|m|h)\s*$")
# Go-style durations as OpenAI's x-ratelimit-reset-* headers write them: "1s", "6m0s", "20ms".
_GO_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_GO_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_duration(text: str, option: str) -> float:
    """Seconds in ``text`` (``300ms``, ``0.3s``, ``0.3``, ``2m``); ``ConfigError`` naming
    ``option`` when it is not a duration."""
    match = _DURATION.match(text)
    if match is None:
        raise ConfigError(
            f"{option} {text!r} is not a duration; write a number with a unit, "
            "for example 300ms, 1.5s or 2m (a bare number is seconds)."
        )
    return float(match.group(1)) * _SECONDS[match.group(2)]


def parse_rate(text: str, option: str = "--rate-limit") -> tuple[int, float]:
    """(requests, per seconds) in ``60/m``, ``5/s``, ``100/10s``; ``ConfigError`` otherwise."""
    match = _RATE.match(text)
    if match is None or int(match.group(1)) < 1 or float(match.group(2) or 1) <= 0:
        raise ConfigError(
            f"{option} {text!r} is not a rate; write requests per unit, for example "
            "60/m (60 a minute), 5/s or 100/10s."
        )
    count = int(match.group(1))
    period = float(match.group(2) or 1) * _SECONDS[match.group(3)]
    return count, period


def parse_go_duration(text: str) -> float | None:
    """Seconds in a Go-style duration (``1s``, ``6m0s``, ``1h2m3.5s``, ``20ms``) or a bare
    number of seconds; ``None`` when ``text`` is neither."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if value >= 0 else None
    parts = _GO_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _GO_SECONDS[u] for n, u in parts)
