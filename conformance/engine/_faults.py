"""What the network or an endpoint's infrastructure did to a run, one fault per exchange.

A fault is not a nonconformance: a 429, a 503 burst, a cut or stalled stream make the checks
that judge the exchange inconclusive (ERROR), and the run goes on. Recovered faults (a 429
that a retry got past) are listed too, so the cost of a flaky endpoint is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.wire._exchange import Exchange
from conformance.wire._retry import RETRY_STATUSES, not_retried, status_reason

RATE_LIMITED = 429

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


def inconclusive(exchange: Exchange, *, judges_error_events: bool = False) -> str | None:
    """Why nothing can be concluded from ``exchange``, or None when it can be judged.

    The one rule of the run's checks and of exploration alike: a transport failure (or a
    request the budget did not send), and a 429, 502, 503 or 504 that the retries did not
    get past, are faults of the network or the endpoint's infrastructure, never a verdict
    on the contract (ERROR, never FAIL). So is an error sent after a 200 (an error object
    as the body, or an error event mid-stream: what vLLM and OpenRouter send when
    overloaded): the answer it cut short is not judged, and the error is named with its
    message. Only a check that ``judges_error_events`` (what may follow one) judges it.
    """
    if exchange.error is not None:
        return exchange.error
    if exchange.status is not None and exchange.status in RETRY_STATUSES:
        return f"{_gave_up(exchange, exchange.status)}; nothing can be concluded"
    if not judges_error_events:
        return error_after_ok(exchange)
    return None


def error_after_ok(exchange: Exchange) -> str | None:
    """The error a 2xx answer carried, named with its message, or None."""
    found = exchange.error_event()
    if found is None:
        return None
    index, message = found
    where = "as its body" if index is None else f"in event {index} of its stream"
    return (
        f"answered {exchange.status}, then an error {where}: {message!r}; nothing can be concluded"
    )


def _gave_up(exchange: Exchange, status: int) -> str:
    what = "rate limited" if status == RATE_LIMITED else "server unavailable"
    page = " (an HTML error page)" if "html" in exchange.content_type else ""
    tries = f" after {exchange.attempts} attempts" if exchange.attempts > 1 else ""
    why = f"{what}: {status_reason(status)}{page}{tries}"
    stopped = not_retried(exchange.retries)
    if stopped is not None:
        why += f" ({stopped})"
    return why


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
    after_ok = error_after_ok(exchange)
    if after_ok is not None:
        kind = "error-event" if exchange.streamed else "error-body"
        return Fault(exchange.id, kind, after_ok, exchange.attempts, False)
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
    return "rate-limited" if status == RATE_LIMITED else "server-error"
