"""The feature checks against the reference server in-process: each feature defect is found
by its check with the exact verdict, JSON path and exchange; a feature declined with a proper
4xx is SKIP "unsupported"; and one defect end to end through `conformance run`."""

from __future__ import annotations

import functools

import httpx
import pytest

from conformance import Contract, Endpoint, Runner, Verdict
from conformance.checks import get_check, registered_checks
from conformance.server import ServerConfig, create_app
from tests.e2e._gateway import declining
from tests.e2e.conftest import load_results, run_cli

KEY = "sk-test-features-0001"
FAIL, WARN = Verdict.FAIL, Verdict.WARN
CALL = "$.choices[0].message.tool_calls[0]"
DELTA_CALL = "$.choices[0].delta.tool_calls[0]"
LP = "$.choices[0].logprobs.content[0]"

# defect -> (check, verdict, JSON path of the first finding, the exchange it was seen in)
FOUND = {
    "tool-choice-required-ignored": ("tool_choice_required_calls", FAIL,
                                     "$.choices[0].message.tool_calls", "tools_required"),
    "tool-choice-named-wrong": ("tool_choice_named_calls", FAIL, f"{CALL}.function.name",
                                "tools_named"),
    "tool-choice-none-ignored": ("tool_choice_none_no_calls", FAIL, CALL, "tools_none"),
    "tool-call-no-id": ("tool_call_shape", FAIL, f"{CALL}.id", "tools_required"),
    "tool-arguments-object": ("tool_call_arguments", FAIL, f"{CALL}.function.arguments",
                              "tools_required"),
    "empty-arguments-string": ("tool_call_arguments", FAIL, f"{CALL}.function.arguments",
                               "tools_named"),
    "tool-stream-no-index": ("tool_call_stream_deltas", FAIL, f"{DELTA_CALL}.index",
                             "tools_required_stream"),
    "tool-stream-other-tool": ("tool_call_stream_matches", WARN, "$.choices[0].delta.tool_calls",
                               "tools_named_stream"),
    "reject-empty-assistant-content": ("tool_round_trip_accepted", FAIL, "$.messages[1]",
                                       "tools_round_trip_empty"),
    "json-object-not-json": ("json_object_content", FAIL, "$.choices[0].message.content",
                             "format_json_object"),
    "json-schema-off-schema": ("json_schema_content", FAIL, "$.choices[0].message.content",
                               "format_json_schema_strict"),
    "logprobs-missing": ("logprobs_present", FAIL, "$.choices[0].logprobs", "logprobs_top"),
    "logprobs-positive": ("logprob_values", FAIL, f"{LP}.logprob", "logprobs_top"),
    "top-logprobs-unsorted": ("top_logprobs_ranked", FAIL, f"{LP}.top_logprobs", "logprobs_top"),
    "logprobs-bad-bytes": ("logprobs_bytes", FAIL, f"{LP}.bytes", "logprobs_top"),
    "logprobs-when-off": ("logprobs_absent_when_off", FAIL, "$.choices[0].logprobs",
                          "logprobs_off"),
    "reject-system-role": ("message_roles_accepted", FAIL, "$.messages", "messages_roles"),
    "reject-content-parts": ("message_content_parts_accepted", FAIL, "$.messages[0].content",
                             "messages_content_parts"),
    "reject-message-name": ("message_name_accepted", FAIL, "$.messages[0].name", "messages_name"),
    "reject-unknown-fields": ("unknown_fields_accepted", WARN, "$.x_conformance_unknown",
                              "messages_unknown_fields"),
    "unknown-fields-500": ("unknown_fields_no_server_error", FAIL, "$.x_conformance_unknown",
                           "messages_unknown_fields"),
    "unknown-model-served": ("unknown_model_rejected", FAIL, "$.model", "unknown_model"),
    "invalid-request-poisons": ("recovers_after_invalid", FAIL, "$", "chat_after_invalid"),
    "reasoning-effort-500": ("reasoning_effort_accepted", FAIL, "$.reasoning_effort",
                             "reasoning_effort"),
    "reasoning-content-not-string": ("reasoning_content_deltas", FAIL,
                                     "$.choices[0].delta.reasoning_content", "reasoning_stream"),
    "reasoning-in-content": ("reasoning_not_in_content", WARN, "$.choices[0].message.content",
                             "reasoning_effort"),
}  # fmt: skip


CONTRACT = Contract.load()  # loaded (and checked as OpenAPI) once: it is most of the cost


def runner_for(app: object) -> Runner:
    return Runner(
        Endpoint("http://127.0.0.1/v1", api_key=KEY, model="conformance/reference-1"),
        CONTRACT,
        transport=httpx.ASGITransport(app),  # type: ignore[arg-type]
    )


@functools.cache
def clean_runner() -> Runner:
    """One runner on the clean server for every test: each probe is sent once."""
    return runner_for(create_app(ServerConfig(api_key=KEY)))


@pytest.mark.parametrize("defect", sorted(FOUND))
def test_each_feature_defect_is_found_at_its_path(defect):
    check_id, verdict, path, exchange_id = FOUND[defect]
    clean = clean_runner().evaluate(get_check(check_id))
    assert clean.verdict is Verdict.PASS, clean.reason
    config = ServerConfig(api_key=KEY, defects=frozenset({defect}))
    result = runner_for(create_app(config)).evaluate(get_check(check_id))
    assert result.verdict is verdict
    first = result.findings[0]
    assert (first.json_path, first.exchange.id) == (path, exchange_id)


@pytest.mark.parametrize(
    ("field", "area"), [("logprobs", "logprobs"), ("response_format", "response_format")]
)
def test_a_feature_declined_with_a_proper_4xx_is_unsupported_not_broken(field, area):
    runner = runner_for(declining(create_app(ServerConfig(api_key=KEY)), field))
    for check in [c for c in registered_checks() if c.area == area]:
        result = runner.evaluate(check)
        assert (result.verdict, result.unsupported) == (Verdict.SKIP, True), check.id
        assert f"400: {field} is not supported" in result.reason
    assert runner.evaluate(get_check("response_schema")).verdict is Verdict.PASS


@pytest.mark.e2e
def test_conformance_run_reports_a_feature_defect_with_its_evidence(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli("run", "--report-dir", str(out), "--defect", "tool-arguments-object")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    checks = {c["id"]: c for c in load_results(out)["checks"]}
    failing = checks["tool_call_arguments"]
    assert failing["verdict"] == "FAIL"
    [finding] = failing["findings"]  # one defect: one finding, listing its probes
    assert (finding["json_path"], finding["title"]) == (
        f"{CALL}.function.arguments",
        "tool-call arguments are not a string",
    )
    assert finding["probes"] == [
        "tools_required",
        "tools_named",
        "tools_named_weather",
        "tools_strict",
    ]
    assert checks["tool_choice_required_calls"]["verdict"] == "PASS"
