"""One rule for "nothing can be concluded", shared by the checks and by exploration: a fault of
the network or of the endpoint's infrastructure is never a FAIL, in either phase.

If exploration (or the engine) grows a rule of its own again, one of these runs FAILs."""

from __future__ import annotations

import pytest

from conformance.engine._faults import inconclusive
from conformance.server import FAULTS
from conformance.wire._exchange import Exchange, RecordedRequest
from tests.e2e.conftest import load_results, run_cli

pytestmark = pytest.mark.e2e

# Switches that make the endpoint's own answers wrong, judged like any other defect, not a
# fault that happened to the run: bytes that are not UTF-8 (tests/live/test_faults.py), and
# a key echoed into the content (which then is not the JSON that json_object asked for).
JUDGED = frozenset({"invalid-utf8", "echo-auth"})


@pytest.mark.parametrize("fault", sorted(set(FAULTS) - JUDGED))
def test_every_fault_with_both_phases_gives_no_fail(fault, tmp_path):
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--phase", "all", "--fault", fault, "--retries", "0", "--examples", "3",
        "--seed", "1", "--idle-timeout", "1", "--total-timeout", "4",
        "--report-dir", str(out),
    )  # fmt: skip
    data = load_results(out)
    failed = {c["id"]: c["findings"] for c in data["checks"] if c["verdict"] == "FAIL"}
    assert failed == {}
    assert proc.returncode in {0, 3}, proc.stdout + proc.stderr


def test_the_gateway_page_reproduction_is_inconclusive_with_nothing_failed(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--phase", "all", "--fault", "gateway-html", "--retries", "0",
        "--examples", "6", "--seed", "1", "--report-dir", str(out),
    )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    data = load_results(out)
    assert data["verdict"] == "inconclusive"
    assert {c["verdict"] for c in data["checks"]} == {"PASS", "ERROR"}
    explored = data["phases"]["explore"]
    assert explored["requests"] < 51  # no shrinking spent on the fault
    assert data["explore"]["findings"] == []


def exchange(status, content_type="application/json", error=None):
    request = RecordedRequest("POST", "http://127.0.0.1/v1/chat/completions", {}, {})
    return Exchange(
        id="p", request=request, status=status, headers={"content-type": content_type},
        error=error,
    )  # fmt: skip


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_every_retryable_status_is_inconclusive(status):
    assert inconclusive(exchange(status)) is not None


@pytest.mark.parametrize("status", [200, 400, 401, 404, 422, 500, 501])
def test_other_statuses_are_judged(status):
    assert inconclusive(exchange(status)) is None
