"""What CI tools read of a run: our JUnit, the job summary and the annotations (issue 21)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from conformance.cli._actions import publish
from conformance.report._ci import run_markdown, workflow_annotations
from conformance.report._junit import junit_xml
from conformance.run._baseline import Baseline, Gate
from tests.report._data import check, finding, results

TOTAL = {**finding("total is wrong", "$.usage.total_tokens", "chat", 14, 15), "seen": 2,
         "trials": 4, "probes": ["chat", "stop_list"]}  # fmt: skip
HOSTILE = finding("answered 500: \x1b[2J", "$", "chat")


def a_run(**fields):
    return results(
        check("usage_arithmetic", "FAIL", findings=[TOTAL]),
        check(
            "stream_usage_unrequested",
            "WARN",
            area="stream",
            severity="SHOULD",
            findings=[finding("usage sent", "$.usage", "chat_stream")],
        ),
        check("logprobs_shape", "ERROR", area="logprobs", reason="timeout after 60 s"),
        check("tools_called", "SKIP", area="tools", unsupported=True, reason="400: no tools"),
        check("success_status", area="http"),
        check("error_body_shape", "FAIL", area="errors", findings=[HOSTILE]),
        **fields,
    )


def test_junit_is_named_after_the_endpoint_and_model_and_carries_each_verdict():
    data = a_run(
        clients={
            "replayed": True,
            "readiness": {
                "openai-python": {"status": "READY", "features": []},
                "langchain-openai": {"status": "LIMITED", "features": ["streaming"]},
            },
            "replay": None,
        }
    )
    root = ET.fromstring(junit_xml(data))
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "6", "2")
    assert (root.get("errors"), root.get("skipped")) == ("1", "1")
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "https://api.example.com/v1 (m-1)"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["conformance_verdict"] == data["verdict"]
    assert props["conformance_client_openai-python"] == "READY"
    assert props["conformance_client_langchain-openai"] == "LIMITED (streaming)"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert [(c.get("classname"), n) for n, c in cases.items()] == [
        ("usage", "usage_arithmetic"),
        ("stream", "stream_usage_unrequested"),
        ("logprobs", "logprobs_shape"),
        ("tools", "tools_called"),
        ("http", "success_status"),
        ("errors", "error_body_shape"),
    ]
    failure = cases["usage_arithmetic"].find("failure")
    assert failure.get("message") == "usage_arithmetic holds"
    assert failure.text.splitlines() == [
        "x total is wrong (in 2 of 4 trials)",
        "  at $.usage.total_tokens (probes: chat, stop_list)",
        "  expected: 14",
        "  actual:   15",
    ]
    case_props = {p.get("name"): p.get("value") for p in cases["usage_arithmetic"].iter("property")}
    assert case_props["conformance_verdict"] == "FAIL"
    error = cases["logprobs_shape"]
    assert (error.find("failure"), error.find("error").get("message")) == (
        None, "inconclusive: timeout after 60 s",
    )  # fmt: skip
    assert cases["tools_called"].find("skipped").get("message") == "unsupported: 400: no tools"
    assert "WARN (a broken SHOULD)" in cases["stream_usage_unrequested"].find("system-out").text
    assert list(cases["success_status"]) == [cases["success_status"].find("properties")]
    assert "\\x1b[2J" in cases["error_body_shape"].find("failure").text  # escaped, never sent


def test_the_summary_says_what_failed_the_gate_and_what_is_known():
    data = a_run()
    known = Baseline.from_results(results(check("usage_arithmetic", "FAIL", findings=[TOTAL])))
    gated = Gate(baseline=Baseline(known.entries, path="known.yaml")).apply(data)
    text = run_markdown(gated)
    assert text.startswith("## Conformance: nonconformant (exit code 1)\n")
    lines = text.splitlines()
    assert "**Gate** (`--fail-on fail`, baseline `known.yaml`): 1 new, 1 known, 0 stale." in lines
    assert (
        "| `usage_arithmetic` | FAIL | `$.usage.total_tokens` (probes: chat, stop\\_list) | "
        "total is wrong (in 2 of 4 trials) | known (baseline) |"
    ) in lines
    assert (
        "| `stream_usage_unrequested` | WARN | `$.usage` (probes: chat\\_stream) | usage sent | "
        "does not fail the run (--fail-on fail) |"
    ) in lines
    assert "| `error_body_shape` | FAIL | `$` (probes: chat) | answered 500: \\\\x1b\\[2J | " \
        "**new: fails the run** |" in lines  # fmt: skip


def test_annotations_are_errors_for_what_failed_the_gate_and_warnings_for_the_rest():
    data = Gate().apply(a_run())
    assert workflow_annotations(data) == [
        "::error title=conformance FAIL%3A usage_arithmetic::total is wrong at "
        "$.usage.total_tokens (probes: chat, stop_list)",
        "::error title=conformance FAIL%3A error_body_shape::answered 500: \\x1b[2J at $ "
        "(probes: chat)",
        "::warning title=conformance WARN%3A stream_usage_unrequested::usage sent at $.usage "
        "(probes: chat_stream)",
    ]


def test_under_github_actions_the_run_appends_the_summary_and_prints_annotations(tmp_path, capsys):
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    data = Gate().apply(a_run())
    publish(data, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == "# earlier step\n" + run_markdown(data)
    assert capsys.readouterr().out.splitlines()[0].startswith("::error title=")
    publish(data, env={"GITHUB_STEP_SUMMARY": str(summary)})  # not under Actions: nothing
    assert capsys.readouterr().out == ""
    publish(data, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path)})
    assert capsys.readouterr().err == (
        f"conformance: GITHUB_STEP_SUMMARY {str(tmp_path)!r} cannot be written: Is a "
        "directory; the job summary is left out.\n"
    )
