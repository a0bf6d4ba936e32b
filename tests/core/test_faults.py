"""What the network did to an exchange, named the same way whether a retry got past it or not."""

from __future__ import annotations

import pytest

from conformance.engine._faults import Fault, classify
from conformance.wire._exchange import Exchange, RecordedRequest


def exchange(status: int | None, *, retries: list[str], html: bool = False) -> Exchange:
    return Exchange(
        id="chat",
        request=RecordedRequest("POST", "http://127.0.0.1/v1/chat/completions", {}, {}),
        status=status,
        headers={"content-type": "text/html" if html else "application/json"},
        attempts=len(retries) + 1,
        retries=retries,
    )


NOTE = "; waited 0.50s (backoff)"


@pytest.mark.parametrize(
    ("because", "kind"),
    [
        ("429 Too Many Requests", "rate-limited"),
        ("503 Service Unavailable", "server-error"),
        ("502 Bad Gateway (an HTML error page)", "gateway-error-page"),
        ("the server closed the connection without sending a response", "connection-reset"),
    ],
)
def test_a_recovered_fault_is_named_as_it_would_be_had_it_not_recovered(because, kind):
    note = f"attempt 1: {because}{NOTE}"
    assert classify(exchange(200, retries=[note])) == Fault(
        "chat", kind, f"got through on attempt 2: {note}", 2, True
    )


@pytest.mark.parametrize(
    ("status", "html", "kind"),
    [(429, False, "rate-limited"), (504, False, "server-error"), (502, True, "gateway-error-page")],
)
def test_a_status_that_outlasted_the_retries_is_a_fault_not_recovered(status, html, kind):
    fault = classify(exchange(status, retries=[], html=html))
    assert fault is not None
    assert (fault.kind, fault.recovered, fault.attempts) == (kind, False, 1)


def test_a_clean_exchange_and_one_the_budget_stopped_are_no_fault():
    assert classify(exchange(200, retries=[])) is None
    stopped = exchange(None, retries=[])
    stopped.error = "not sent: the request budget is spent (2 of --max-requests 2)"
    assert classify(stopped) is None
