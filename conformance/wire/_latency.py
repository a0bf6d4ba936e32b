"""How fast an endpoint answered: per exchange, and p50/p95 over a run's streamed probes.

Figures, never verdicts: nothing here passes or fails a check. The client stamps each
exchange (``Timing``) with an injectable clock, so tests give it one that does not depend
on the machine's load; :func:`figures` reduces the stamps of a run to the percentiles that
``results.json`` stores under ``latency`` (documented in ``docs/results-schema.json``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from conformance.wire._sse import ServerSentEvent

Clock = Callable[[], float]

# A decoding rate means something only over enough chunks spread over enough time: chunks
# that arrive in one burst (a buffering proxy, an endpoint that generates before it sends)
# would give tens of thousands of tokens per second.
MIN_RATE_CHUNKS = 8
MIN_DECODE_S = 0.05
# Upper bounds (milliseconds) of the histogram buckets of time to first token and chunk gaps;
# the last bucket (None) holds everything slower.
HISTOGRAM_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, None)

# The figures of a run, in the order the report shows them: key, label, unit.
FIGURES = (
    ("headers_s", "time to response headers", "s"),
    ("first_token_s", "time to first content token", "s"),
    ("chunk_gap_s", "gap between stream chunks", "s"),
    ("output_tokens_per_s", "output tokens per second", "tok/s"),
)


@dataclass
class Timing:
    """When the parts of one answer arrived, in seconds after the request was sent."""

    clock: Clock = field(default=time.perf_counter, repr=False, compare=False)
    started: float | None = field(default=None, repr=False)
    headers_s: float | None = None
    event_s: list[float] = field(default_factory=list)  # one per SSE event, in order

    def begin(self, clock: Clock | None = None) -> None:
        if clock is not None:
            self.clock = clock
        self.started = self.clock()

    def _now(self) -> float | None:
        return None if self.started is None else max(0.0, self.clock() - self.started)

    def mark_headers(self) -> None:
        self.headers_s = self._now()

    def mark_events(self, count: int) -> None:
        """``count`` events were decoded just now."""
        now = self._now()
        if now is not None and count > 0:
            self.event_s.extend([now] * count)


def _carries_content(data: str) -> bool:
    """True for a chunk that carries output: text, refusal, reasoning or a tool call."""
    try:
        chunk = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, or a hostile nesting: no content
        return False
    choices = chunk.get("choices") if isinstance(chunk, dict) else None
    for choice in choices if isinstance(choices, list) else []:
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            continue
        for key in ("content", "refusal", "reasoning_content", "reasoning"):
            if isinstance(delta.get(key), str) and delta[key]:
                return True
        if delta.get("tool_calls"):
            return True
    return False


@dataclass(frozen=True)
class ExchangeFigures:
    """One exchange's figures (None where it has none: not streamed, no content)."""

    headers_s: float | None
    first_token_s: float | None
    gaps_s: tuple[float, ...]
    output_tokens_per_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "headers_s": _round(self.headers_s),
            "first_token_s": _round(self.first_token_s),
            "chunk_gaps": len(self.gaps_s),
            "max_chunk_gap_s": _round(max(self.gaps_s)) if self.gaps_s else None,
            "output_tokens_per_s": _round(self.output_tokens_per_s, 2),
        }


def exchange_figures(
    timing: Timing, data: list[ServerSentEvent], usage: tuple[int, int] | None
) -> ExchangeFigures:
    """The figures of one exchange from its timing stamps, its data events (none when it was
    not streamed) and the usage it reported."""
    times = timing.event_s[: len(data)]
    content = [t for event, t in zip(data, times, strict=False) if _carries_content(event.data)]
    gaps = tuple(b - a for a, b in pairwise(times))
    rate: float | None = None
    if len(content) >= MIN_RATE_CHUNKS and content[-1] - content[0] >= MIN_DECODE_S:
        tokens = usage[1] if usage is not None and usage[1] > 0 else len(content)
        # Tokens after the first, over the time from the first content chunk to the last:
        # the decoding rate, not diluted by the time to the first token.
        rate = (tokens - 1) / (content[-1] - content[0]) if tokens > 1 else None
    return ExchangeFigures(
        headers_s=timing.headers_s,
        first_token_s=content[0] if content else None,
        gaps_s=gaps,
        output_tokens_per_s=rate,
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def summary(
    values: Sequence[float], digits: int = 4, *, rate: bool = False
) -> dict[str, Any] | None:
    """p50, p95, p99, min, max and n; a rate (higher is better) gets p5 too, its slow tail
    (p95 of a throughput is the fast tail, which says little)."""
    if not values:
        return None
    out: dict[str, Any] = {
        "p50": round(percentile(values, 50), digits),
        "p95": round(percentile(values, 95), digits),
        "p99": round(percentile(values, 99), digits),
        "min": round(min(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }
    if rate:
        out["p5"] = round(percentile(values, 5), digits)
    return out


def histogram(seconds: Sequence[float]) -> list[list[int | None]]:
    """``[[upper_ms, count], ...]`` over :data:`HISTOGRAM_MS` (None: slower than the rest),
    from the first bucket with a value to the last."""
    counts = [0] * len(HISTOGRAM_MS)
    for value in seconds:
        ms = value * 1000
        index = next(
            (i for i, upper in enumerate(HISTOGRAM_MS) if upper is not None and ms <= upper),
            len(HISTOGRAM_MS) - 1,
        )
        counts[index] += 1
    used = [i for i, n in enumerate(counts) if n]
    if not used:
        return []
    return [[HISTOGRAM_MS[i], counts[i]] for i in range(used[0], used[-1] + 1)]


def with_histogram(values: Sequence[float]) -> dict[str, Any] | None:
    stats = summary(values)
    if stats is not None:
        stats["histogram"] = histogram(values)
    return stats


class Timed(Protocol):
    """What :func:`figures` reads of an exchange (``_exchange.Exchange`` is one)."""

    streamed: bool
    timing: Timing
    retry_wait_s: float

    @property
    def ok(self) -> bool: ...

    def figures(self) -> ExchangeFigures: ...


def figures(exchanges: Iterable[Timed]) -> dict[str, Any]:
    """p50/p95 (and min, max, count) of each figure over the streamed exchanges answered
    with a 2xx; the ``latency`` object of results.json."""
    exchanges = list(exchanges)
    answered = [e for e in exchanges if e.streamed and e.ok and e.timing.headers_s is not None]
    per = [e.figures() for e in answered]
    headers = [f.headers_s for f in per if f.headers_s is not None]
    first = [f.first_token_s for f in per if f.first_token_s is not None]
    gaps = [g for f in per for g in f.gaps_s]
    rates = [f.output_tokens_per_s for f in per if f.output_tokens_per_s is not None]
    # Waits before retries (429s, 503s), per request that waited, over every exchange: the
    # figures above time the last attempt only, so a rate-limited run's cost shows here.
    waits = [e.retry_wait_s for e in exchanges if e.retry_wait_s > 0]
    return {
        "streamed_exchanges": len(answered),
        "headers_s": summary(headers),
        "first_token_s": with_histogram(first),
        "chunk_gap_s": with_histogram(gaps),
        "output_tokens_per_s": summary(rates, 2, rate=True),
        "retry_wait_s": summary(waits, 3),
    }


def figure_text(stats: Mapping[str, Any] | None, unit: str) -> str:
    """``p50 301 ms, p95 320 ms, p99 330 ms``; a rate: ``p50 19.6 tok/s, slowest 5% below
    12 tok/s``; ``-`` when there is nothing to show."""
    if not isinstance(stats, Mapping) or stats.get("p50") is None:
        return "-"
    if unit == "s":
        text = f"p50 {_ms(stats['p50'])}, p95 {_ms(stats['p95'])}"
        return text + (f", p99 {_ms(stats['p99'])}" if stats.get("p99") is not None else "")
    if stats.get("p5") is not None:
        return f"p50 {stats['p50']:g} {unit}, slowest 5% below {stats['p5']:g} {unit}"
    return f"p50 {stats['p50']:g} {unit}, p95 {stats['p95']:g} {unit}"


def _ms(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def latency_line(data: Mapping[str, Any]) -> str | None:
    """The run's figures in one line of plain text, or None when it has none."""
    latency = data.get("latency")
    if not isinstance(latency, Mapping) or not latency.get("streamed_exchanges"):
        return None
    parts = [
        f"{label}: {figure_text(latency.get(key), unit)}"
        for key, label, unit in FIGURES
        if isinstance(latency.get(key), Mapping)
    ]
    if not isinstance(latency.get("output_tokens_per_s"), Mapping):
        parts.append(
            f"output tokens per second: not measured (no stream had {MIN_RATE_CHUNKS} content "
            f"chunks over {MIN_DECODE_S * 1000:.0f} ms or more)"
        )
    count = latency["streamed_exchanges"]
    line = "; ".join(parts) + f" (over {count} streamed probe{'s' * (count != 1)})"
    waits = latency.get("retry_wait_s")
    if isinstance(waits, Mapping) and waits.get("n"):
        line += (
            f"; waits before retries, apart from the figures above: {waits['n']} "
            f"request{'s' * (waits['n'] != 1)} waited p50 {_ms(waits['p50'])}, "
            f"max {_ms(waits['max'])}"
        )
    return line
