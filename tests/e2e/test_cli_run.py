"""`conformance run` as a user runs it: real processes, real sockets, real files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from conformance.checks.usage import USAGE_PROBES
from tests.e2e.conftest import CANARY, clean_env, free_port, load_results, run_cli

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
RESULTS_SCHEMA = json.loads((ROOT / "docs" / "results-schema.json").read_text())


def assert_valid_results(data):
    errors = list(jsonschema.Draft202012Validator(RESULTS_SCHEMA).iter_errors(data))
    assert errors == []


def test_run_against_the_embedded_server_passes_and_writes_three_files(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli("run", "--report-dir", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {p.name for p in out.iterdir()} == {"report.html", "results.json", "junit.xml"}
    data = load_results(out)
    assert_valid_results(data)
    assert data["verdict"] == "conformant"
    assert data["endpoint"]["embedded"] is True
    assert data["model"] == "conformance/reference-1"
    assert (
        data["spec"]["sha256"]
        == json.loads((ROOT / "schemas" / "chat-completions.openapi.source.json").read_text())[
            "sha256"
        ]
    )
    verdicts = {c["id"]: c["verdict"] for c in data["checks"]}
    # the local server's streams span no second: created is not provoked (issue 19)
    assert {k for k, v in verdicts.items() if v != "PASS"} == {"chunk_created_stable"}, verdicts
    assert verdicts["chunk_created_stable"] == "SKIP"
    assert {
        "response_schema",
        "chunk_schema",
        "stream_done_terminator",
        "usage_arithmetic",
        "auth_missing_key_rejected",
        "invalid_request_rejected",
    } <= set(verdicts)
    assert data["requests"] == len(data["exchanges"])
    assert data["tokens"]["total"] == data["tokens"]["prompt"] + data["tokens"]["completion"] > 0
    junit = ET.parse(out / "junit.xml").getroot()
    cases = junit.findall(".//testcase")
    assert len(cases) == len(verdicts)
    assert junit.findall(".//failure") == []
    assert junit.findall(".//error") == []
    html = (out / "report.html").read_text()
    assert f"<dd>{data['endpoint']['base_url']} (embedded reference server)</dd>" in html
    assert html.count(' class="cf-row cf-row-PASS">') == len(verdicts) - 1  # created: SKIP
    assert '<tr id="cf-check-usage_arithmetic" class="cf-row cf-row-PASS">' in html
    assert "conformance: conformant:" in proc.stdout
    assert "conformance: checks:" not in proc.stdout  # one phase: the line above says it all
    # The default server's answers are read right by every tested client (the replay).
    readiness = data["clients"]["readiness"]
    assert readiness["openai-python"]["status"] == "READY"
    assert {r["status"] for r in readiness.values()} <= {"READY", "SKIP"}, readiness
    properties = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert properties["conformance_client_openai-python"] == "READY"
    assert "conformance: client openai-python 3.63.0: READY" in proc.stdout


def test_a_defect_is_found_with_its_evidence(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli("run", "--report-dir", str(out), "--defect", "bad-usage-total")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data = load_results(out)
    assert_valid_results(data)
    assert data["verdict"] == "nonconformant"
    failed = {c["id"]: c for c in data["checks"] if c["verdict"] == "FAIL"}
    assert set(failed) == {"usage_arithmetic"}
    findings = failed["usage_arithmetic"]["findings"]
    # one finding for the one defect, listing every answer that reports usage
    [finding] = findings
    assert finding["json_path"] == "$.usage.total_tokens"
    assert set(finding["probes"]) == set(USAGE_PROBES)
    assert (finding["seen"], finding["trials"]) == (4, 4)
    assert finding["actual"] == finding["expected"] + 1
    assert (
        "conformance: FAIL usage_arithmetic: usage.total_tokens is not prompt_tokens + "
        "completion_tokens at $.usage.total_tokens (probes chat, chat_n, cap_max_tokens, "
        "cap_max_completion_tokens and 6 more, in 4 of 4 trials)\n"
    ) in proc.stdout
    html = (out / "report.html").read_text()
    assert html.count(' class="cf-row cf-row-FAIL">') == 1
    assert '<tr id="cf-check-usage_arithmetic" class="cf-row cf-row-FAIL">' in html
    # The client replay: the AI SDK computes total_tokens itself, so the wrong total breaks it
    # (measured); where usage_arithmetic does not judge the exchange, client_reads_exchange
    # names the break (a WARN). Without Node, the AI SDK is SKIP and nothing breaks.
    clients = {c["id"]: c for c in data["checks"]}["client_reads_exchange"]
    unnamed = [f for f in clients["findings"] if f["json_path"] == "$.usage.total_tokens"]
    assert html.count("<td><code>$.usage.total_tokens</code></td>") == len(findings) + len(unnamed)
    if data["clients"]["readiness"]["ai-sdk"]["status"] != "SKIP":
        assert clients["verdict"] == "WARN"
        assert {b["client"] for f in findings for b in f["impact"]["breaks"]} == {"ai-sdk"}
        assert data["clients"]["readiness"]["ai-sdk"]["features"] == ["usage"]
    assert "Authorization: Bearer $CONFORMANCE_API_KEY" in html  # the curl reproduction


def test_another_server_on_loopback_works_with_no_code_change_and_the_key_never_leaks(
    tmp_path, served
):
    out = tmp_path / "reports"
    proc = run_cli(
        "run",
        "--base-url",
        served,
        "--model",
        "conformance/reference-1",
        "--report-dir",
        str(out),
        env=clean_env(CONFORMANCE_API_KEY=CANARY),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = load_results(out)
    assert data["endpoint"] == {"base_url": served, "embedded": False}
    others = {c["id"]: c["verdict"] for c in data["checks"] if c["verdict"] != "PASS"}
    assert (
        others.items() <= {"chunk_created_stable": "SKIP"}.items()
    )  # PASS when a stream spans 1 s
    for path in out.rglob("*"):
        assert CANARY not in path.read_text(errors="replace"), path
    assert CANARY not in proc.stdout + proc.stderr


def test_an_unreachable_endpoint_is_one_clear_line_and_exit_3(tmp_path):
    port = free_port()
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m", "--report-dir", str(out)
    )
    assert proc.returncode == 3
    first = proc.stderr.splitlines()[0]
    assert first.startswith(
        f"conformance: cannot reach the endpoint at http://127.0.0.1:{port}/v1/chat/completions: "
    )
    assert first == (
        f"conformance: cannot reach the endpoint at http://127.0.0.1:{port}/v1/chat/completions: "
        f"connection refused by 127.0.0.1:{port}. Is the server running, and is the port in "
        "--base-url right?"
    )  # the hint said once
    assert "Traceback" not in proc.stderr
    assert load_results(out)["verdict"] == "inconclusive"


def test_a_wrong_key_is_one_clear_line_and_exit_3(tmp_path, served):
    proc = run_cli(
        "run",
        "--base-url",
        served,
        "--model",
        "conformance/reference-1",
        "--report-dir",
        str(tmp_path),
        env=clean_env(CONFORMANCE_API_KEY="sk-wrong-key"),
    )
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[0] == (
        f"conformance: authentication rejected: {served}/chat/completions answered 401 to the "
        "API key given. Check --api-key (or CONFORMANCE_API_KEY / OPENAI_API_KEY)."
    )
    assert "sk-wrong-key" not in (tmp_path / "results.json").read_text()


def test_a_missing_key_is_one_clear_line_and_exit_3_not_nonconformance(tmp_path, served):
    proc = run_cli(
        "run",
        "--base-url",
        served,
        "--model",
        "conformance/reference-1",
        "--report-dir",
        str(tmp_path),
        env=clean_env(),  # no key at all, against an endpoint that requires one
    )
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[0] == (
        f"conformance: no API key: {served}/chat/completions answered 401 to a request "
        "without one. Set CONFORMANCE_API_KEY (or OPENAI_API_KEY), or pass --api-key."
    )
    data = load_results(tmp_path)
    assert (data["verdict"], data["requests"]) == ("inconclusive", 1)


def test_a_bad_base_url_is_a_usage_error():
    proc = run_cli("run", "--base-url", "localhost:8000", "--model", "m")
    assert proc.returncode == 2
    assert proc.stderr == (
        "conformance: error: --base-url 'localhost:8000' is not an http(s) URL with a host. "
        "Pass the endpoint's base URL, for example --base-url https://api.example.com/v1.\n"
    )


def test_a_broken_spec_is_a_usage_error_not_a_traceback(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: 3.1.0\ninfo: [\n")
    proc = run_cli("run", "--spec", str(spec), "--report-dir", str(tmp_path / "r"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        f"conformance: error: spec file {str(spec)!r} is not valid YAML or JSON at line "
    )
    assert "Traceback" not in proc.stderr


def test_an_unknown_defect_is_a_usage_error():
    proc = run_cli("run", "--defect", "gremlins")
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "conformance: error: --defect 'gremlins' is unknown. Known defects: "
    )


PYTEST_WORDS = ("passed", "failed", "deselected", "ERROR at setup", "test_check", "plugin.py",
                "CheckResult(", "suite.py", "Generated html report", "=====")  # fmt: skip


def test_a_gateway_answering_502_pages_is_one_cause_in_a_few_lines(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli(
        "run", "--fault", "gateway-html", "--server-mode", "model", "--retries", "0",
        "--report-dir", str(out),
    )  # fmt: skip
    text = proc.stdout + proc.stderr
    assert proc.returncode == 3, text
    assert len(text.splitlines()) <= 15, text
    for word in PYTEST_WORDS:
        assert word not in text, word
    data = load_results(out)
    errors = [c["id"] for c in data["checks"] if c["verdict"] == "ERROR"]
    bodies = [e["request"]["body"] for e in data["exchanges"]]
    streams = sum(1 for b in bodies if isinstance(b, dict) and b.get("stream") is True)
    cause = [line for line in proc.stdout.splitlines() if line.startswith("conformance: cause:")]
    assert cause == [
        f"conformance: cause: every stream: true request ({streams} of {data['requests']}) got "
        f"502 Bad Gateway (a gateway's HTML error page): {len(errors)} checks inconclusive "
        f"({', '.join(errors[:3])} and {len(errors) - 3} more)"
    ]
    assert proc.stdout.splitlines()[0].startswith(
        f"conformance: inconclusive: {len(data['checks'])} checks ("
    )


@pytest.mark.parametrize("insecure", [(), ("--insecure",)], ids=["verified", "insecure"])
def test_https_to_a_plain_http_server_says_the_server_speaks_http(tmp_path, served, insecure):
    url = served.replace("http://", "https://")
    where = url.removeprefix("https://").split("/")[0]
    proc = run_cli(
        "run", "--base-url", url, "--model", "conformance/reference-1",
        "--report-dir", str(tmp_path), *insecure, env=clean_env(CONFORMANCE_API_KEY=CANARY),
    )  # fmt: skip
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[0] == (
        f"conformance: cannot reach the endpoint at {url}/chat/completions: {where} answered "
        "the TLS handshake in plain HTTP: the server speaks http://, not https:// (TLS "
        "handshake failed: WRONG_VERSION_NUMBER). Use an http:// --base-url for this server "
        "(or put TLS in front of it)."
    )
