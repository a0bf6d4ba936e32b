"""What the network or an endpoint's infrastructure did to a run, one fault per exchange.

A fault is not a nonconformance: a 429, a 503 burst, a cut or stalled stream make the checks
that judge the exchange inconclusive (ERROR), and the run goes on. Recovered faults (a 429
that a retry got past) are listed too, so the cost of a flaky endpoint is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance._exchange import Exchange
from conformance._retry import RETRY_STATUSES, status_reason

# (kind, words in Exchange.error that identify it), first match wins
_ERROR_KINDS = (
    ("stalled", ("stream stalled",)),
    ("total-timeout", ("exceeded the total timeout",)),
    ("body-too-large", ("body exceeded",)),
    ("timeout", ("timeout",)),
    ("connection-reset", ("while the body was being read",)),
    ("unreachable", ("connection refused", "could not resolve", "could not connect")),
    ("tls", ("TLS",)),
)


@dataclass(frozen=True)
class Fault:
    exchange: str  # the probe whose exchange it hit
    kind: str
    message: str
    attempts: int
    recovered: bool  # a retry got past it: the checks judged a good exchange

    def to_dict(self) -> dict[str, Any]:
        return {
            "exchange": self.exchange,
            "kind": self.kind,
            "message": self.message,
            "attempts": self.attempts,
            "recovered": self.recovered,
        }


def classify(exchange: Exchange) -> Fault | None:
    """The fault that hit ``exchange``, or None when it went through cleanly."""
    error = exchange.error
    if error is not None and error.startswith("not sent:"):
        return None  # the budget, not the endpoint
    if error is not None:
        kind = next((k for k, words in _ERROR_KINDS if any(w in error for w in words)), "")
        return Fault(exchange.id, kind or "transport", error, exchange.attempts, False)
    if exchange.status in RETRY_STATUSES:
        status = exchange.status
        said = f"{status_reason(status)} after {exchange.attempts} attempt(s)"
        if exchange.retries:
            said += ": " + "; ".join(exchange.retries)
        kind = _status_kind(status, "html" in exchange.content_type)
        return Fault(exchange.id, kind, said, exchange.attempts, False)
    if exchange.retries:
        message = f"got through on attempt {exchange.attempts}: " + "; ".join(exchange.retries)
        # The first note says why attempt 1 was retried: "attempt 1: <status reason or error>; ..."
        because = exchange.retries[0].partition(": ")[2]
        code = because[:3]
        if code.isdigit() and int(code) in RETRY_STATUSES:
            kind = _status_kind(int(code), "HTML error page" in because.partition(";")[0])
        else:
            kind = "connection-reset"  # the only retried error: a connection dropped early
        return Fault(exchange.id, kind, message, exchange.attempts, True)
    return None


def _status_kind(status: int, html: bool) -> str:
    """The fault of a retryable status, whether it ended the exchange or was got past."""
    if html:
        return "gateway-error-page"
    return "rate-limited" if status == 429 else "server-error"
