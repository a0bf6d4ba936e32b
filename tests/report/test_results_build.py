"""results.json is assembled in one place (``_results.build``): phases, totals, exchanges and
the gate's decision come out of one call, consistent with each other, never patched after."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from conformance.checks import get_check
from conformance.checks._model import Finding, Verdict
from conformance.engine._result import CheckResult, Usage
from conformance.run._baseline import Gate
from conformance.run._results import EXIT_NONCONFORMANT, RunInfo, build
from conformance.wire._exchange import Exchange, RecordedRequest

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "results-schema.json").read_text()
)
INFO = RunInfo("http://127.0.0.1:1/v1", "m", "strict", "API", "1", "a" * 64, "2026-01-01")


def exchange(exchange_id):
    return Exchange(exchange_id, RecordedRequest("POST", "http://127.0.0.1:1/v1", {}, {}), 200)


class Explored:
    requests = 4
    prompt_tokens = 30
    completion_tokens = 12
    exchanges = (exchange("chat"), exchange("explore-valid-2"))

    def to_dict(self):
        return {"seed": 1, "findings": []}


def test_phases_totals_exchanges_and_gate_come_out_of_one_build():
    failed = Finding(title="x", kind="x", check_id="success_status", exchange=exchange("chat"))
    results = [
        CheckResult(get_check("success_status"), Verdict.FAIL, [failed], [exchange("chat")]),
        CheckResult(get_check("response_schema"), Verdict.PASS),
    ]
    data = build(
        INFO,
        results,
        exchanges=[exchange("chat")],
        requests_sent=3,
        usage=Usage(prompt=100, completion=40),
        explored=Explored(),
        gate=Gate(),
    )
    assert data["requests"] == 7 == sum(p["requests"] for p in data["phases"].values())
    assert data["phases"]["checks"]["tokens"] == {"prompt": 70, "completion": 28, "total": 98}
    assert data["phases"]["explore"]["tokens"] == {"prompt": 30, "completion": 12, "total": 42}
    assert data["tokens"]["total"] == 140
    assert [e["id"] for e in data["exchanges"]] == ["chat", "explore-valid-2"]
    assert data["explore"] == {"seed": 1, "findings": []}
    assert data["exit_code"] == EXIT_NONCONFORMANT
    assert [n["kind"] for n in data["gate"]["new"]] == ["x"]
    assert data["totals"]["FAIL"] == 1
    errors = jsonschema.Draft202012Validator(SCHEMA).iter_errors({**data, "explore": None})
    assert [e.message for e in errors] == []
