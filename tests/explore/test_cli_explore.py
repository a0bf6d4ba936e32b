"""`conformance run --phase explore` as a user runs it: a real process, a real socket."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from tests.e2e.conftest import CANARY, clean_env, load_results, run_cli

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
RESULTS_SCHEMA = json.loads((ROOT / "docs" / "results-schema.json").read_text())
PROPERTY_IDS = [
    "explore_no_server_errors",
    "explore_valid_accepted",
    "explore_response_schema",
    "explore_invalid_rejected",
    "explore_recovers",
]


def assert_valid_results(data):
    assert list(jsonschema.Draft202012Validator(RESULTS_SCHEMA).iter_errors(data)) == []


def test_explore_against_the_clean_server_passes_and_prints_seed_and_tokens(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--phase", "explore", "--examples", "20", "--seed", "7", "--report-dir", str(out)
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = load_results(out)
    assert_valid_results(data)
    assert [c["id"] for c in data["checks"]] == PROPERTY_IDS
    assert {c["verdict"] for c in data["checks"]} == {"PASS"}
    explored = data["explore"]
    assert (explored["seed"], explored["examples"], explored["findings"]) == (7, 20, [])
    spent = data["phases"]["explore"]
    assert spent["requests"] == 60  # 20 valid, 20 invalid and a plain request after each
    assert spent["tokens"]["total"] == spent["tokens"]["prompt"] + spent["tokens"]["completion"]
    assert spent["tokens"]["completion"] > 0
    assert data["requests"] == spent["requests"] + data["phases"]["checks"]["requests"]
    tokens = spent["tokens"]
    assert (
        f"conformance: explore: 60 requests, {tokens['total']} tokens "
        f"({tokens['prompt']} prompt, {tokens['completion']} completion)"
    ) in proc.stdout
    assert "conformance: explore: seed 7 (replay: --seed 7), 0 distinct findings" in proc.stdout


def test_a_combination_defect_fails_with_its_shrunk_example_and_a_curl_line(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--phase", "explore", "--defect", "n-stream-500", "--seed", "20261126",
        "--report-dir", str(out),
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = load_results(out)
    assert_valid_results(data)
    verdicts = {c["id"]: c["verdict"] for c in data["checks"]}
    assert verdicts == {**dict.fromkeys(PROPERTY_IDS, "PASS"), "explore_no_server_errors": "FAIL"}
    [found] = data["explore"]["findings"]
    assert found["property"] == found["check_id"] == "explore_no_server_errors"
    assert found["fields"] == ["n", "stream"]
    assert found["shrunk"] is True
    evidence = {e["id"]: e for e in data["exchanges"]}[found["exchange"]]
    assert evidence["request"]["body"] == found["example"]
    assert evidence["response"]["status"] == 500
    junit = ET.parse(out / "junit.xml").getroot()
    [failure] = junit.findall(".//failure")
    assert "fields: n, stream" in failure.get("message", "") + (failure.text or "")
    assert "replay: --seed 20261126" in failure.get("message", "") + (failure.text or "")
    html = (out / "report.html").read_text()
    assert "explore_no_server_errors" in html
    assert "Authorization: Bearer $CONFORMANCE_API_KEY" in html


def test_the_budget_stops_exploration_of_another_server_and_the_key_never_leaks(tmp_path, served):
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--base-url", served, "--model", "conformance/reference-1", "--phase", "explore",
        "--examples", "30", "--seed", "1", "--max-requests", "20", "--report-dir", str(out),
        env=clean_env(CONFORMANCE_API_KEY=CANARY),
    )  # fmt: skip
    for path in out.iterdir():
        assert CANARY not in path.read_text(), path.name
    assert CANARY not in proc.stdout + proc.stderr
    data = load_results(out)
    assert_valid_results(data)
    assert proc.returncode == 3, proc.stdout + proc.stderr  # the invalid phase never ran
    assert data["partial"] is True
    assert (
        "exploration stopped early: the request budget is spent (20 of --max-requests 20); "
        "it judged what was sent"
    ) in data["notes"]
    assert data["requests"] == 20
    assert (
        "conformance: explore: seed 1 (replay: --seed 1), 0 distinct findings; stopped early: "
        "the request budget is spent (20 of --max-requests 20)"
    ) in proc.stdout
    verdicts = {c["id"]: c["verdict"] for c in data["checks"]}
    assert verdicts["explore_no_server_errors"] == "PASS"
    assert verdicts["explore_invalid_rejected"] == "ERROR"


def test_the_checks_phase_is_the_default():
    from conformance.cli import run

    phase = next(p for p in run.params if p.name == "phase")
    assert phase.default == "checks"


def test_the_pytest_plugin_runs_the_exploration_items_on_request(tmp_path):
    import re
    import subprocess
    import sys

    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "--pyargs", "conformance.suite", "-q",
            "-p", "no:cacheprovider", "--conformance-phase", "explore",
            "--conformance-examples", "5", "--conformance-seed", "3",
        ],
        capture_output=True, text=True, env=clean_env(), cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^5 passed, \d+ deselected in ", proc.stdout, re.MULTILINE), proc.stdout


def test_exploration_waits_out_rate_limits_like_the_checks_do(tmp_path):
    # The first attempt of every request is refused with 429 and an x-ratelimit reset:
    # generated requests must be retried through the run's policy, not given up.
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--phase", "explore", "--examples", "5", "--seed", "7",
        "--fault", "rate-limit-reset", "--report-dir", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = load_results(out)
    assert {c["verdict"] for c in data["checks"]} == {"PASS"}
    explored = data["phases"]["explore"]
    # Given up instead of retried, every generated request would be ERROR and bill nothing.
    assert explored["tokens"]["total"] > 0
    assert explored["requests"] > data["explore"]["examples"] * 3  # 5 valid, 5 invalid, 5 plain
