"""Issue 19's defects of streamed tool calls and identity fields, under ``--profile openai``
(calls streamed in fragments, ``role`` on the first delta only): on the toy and on the
model-like server, each is found by exactly its check, with exactly these findings (the
toy's); the clean servers PASS the new checks, provoked. (Under strict: test_defects_found.)
"""

from __future__ import annotations

import functools

import httpx
import pytest

from conformance import Contract, Endpoint, Runner, Verdict
from conformance.checks import get_check, get_probe, registered_checks
from conformance.checks._model import path_family
from conformance.engine._result import CheckResult
from conformance.server import ServerConfig, create_app
from tests.e2e._inprocess import KEY as IN_PROCESS_KEY
from tests.e2e._inprocess import run_app
from tests.e2e.test_defects_found import MODEL_MAY_ALSO

KEY = "sk-test-tool-streams-01"
PROFILE = "openai"
FOUND = {Verdict.FAIL, Verdict.WARN}
NEW_CHECKS = ("tool_call_stream_parallel", "stream_delta_identity_once", "tool_calls_not_empty")
CALLS = "$.choices[0].delta.tool_calls"
MESSAGE_CALL = "$.choices[0].message.tool_calls[0]"
PARALLEL = "tools_parallel_stream"
TOOL_STREAMS = ("tools_named_stream", PARALLEL, "tools_required_stream")
TEXT_STREAMS = ("cap_max_tokens_stream", "chat_n_stream", "chat_stream", "chat_stream_usage")
ANSWERS = (
    *("cap_max_completion_tokens", "cap_max_tokens", "chat", "chat_n", "seed", "stop_list"),
    "tools_none",  # (tool_auto: the toy calls the tool its prompt names)
)
ARGS_NOT_JSON = "tool-call arguments are not JSON"
NO_PARAMETERS = 'tool-call arguments of a function without parameters are not "{}"'

# defect -> check -> (verdict, the toy's findings as (kind, JSON path, probe))
EXPECTED: dict[str, dict[str, tuple[Verdict, set[tuple[str, str, str]]]]] = {
    "tool-calls-one-index": {
        "tool_call_stream_parallel": (
            Verdict.FAIL,
            {("a later delta changes the tool call's id", f"{CALLS}[0].id", PARALLEL)},
        )
    },
    "tool-call-ids-shared": {
        "tool_call_stream_parallel": (
            Verdict.FAIL,
            {("one tool-call id under two indexes", f"{CALLS}[0].id", PARALLEL)},
        )
    },
    "tool-arguments-repeated": {
        "tool_call_arguments": (
            Verdict.FAIL,
            {
                (ARGS_NOT_JSON, f"{CALLS}[0].function.arguments", probe)
                for probe in (PARALLEL, "tools_required_stream")
            },
        )
    },
    "repeat-delta-identity": {
        "stream_delta_identity_once": (
            Verdict.FAIL,
            {
                ("a later delta sends the role again", "$.choices[0].delta.role", probe)
                for probe in (*TEXT_STREAMS, *TOOL_STREAMS)
            }
            | {
                (kind, f"{CALLS}[0].{field}", probe)
                for kind, field in (
                    ("a later delta of a tool call sends its id again", "id"),
                    ("a later delta of a tool call sends its function name again", "function.name"),
                )
                for probe in TOOL_STREAMS
            },
        )
    },
    "empty-tool-calls": {
        "tool_calls_not_empty": (
            Verdict.WARN,
            {("tool_calls is an empty list", "$.choices[0].message.tool_calls", p) for p in ANSWERS}
            | {("tool_calls is an empty list", "$.choices[1].message.tool_calls", "chat_n")}
            | {("tool_calls is an empty list", CALLS, p) for p in TEXT_STREAMS},
            # (a chunk carries one choice: its position is 0 whatever its index)
        )
    },
    "empty-arguments-string": {  # item 9: tools_named forces get_time, which has no parameters
        "tool_call_arguments": (
            Verdict.FAIL,
            {(NO_PARAMETERS, f"{MESSAGE_CALL}.function.arguments", "tools_named")},
        )
    },
}


@functools.cache
def contract() -> Contract:
    return Contract.load(profile=PROFILE)


def toy(*defects: str) -> dict[str, CheckResult]:
    config = ServerConfig(api_key=KEY, profile=PROFILE, defects=frozenset(defects))
    runner = Runner(
        Endpoint("http://127.0.0.1/v1", api_key=KEY, model=config.models[0]),
        contract(),
        transport=httpx.ASGITransport(create_app(config)),
    )
    # client_reads_exchange is the replay's (tests/clients); created is not provoked in-process
    checks = [c for c in registered_checks() if c.id != "client_reads_exchange"]
    return {c.id: runner.evaluate(c) for c in checks}


def model(seed: int, *defects: str) -> dict[str, Verdict]:
    config = ServerConfig(
        api_key=IN_PROCESS_KEY, mode="model", seed=seed, profile=PROFILE, defects=frozenset(defects)
    )
    return {r.check.id: r.verdict for r in run_app(create_app(config), contract=contract())[1]}


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_each_defect_is_found_on_the_toy_by_exactly_its_check_with_these_findings(defect):
    results = toy(defect)
    verdicts = {k: r.verdict for k, r in results.items() if r.verdict is not Verdict.PASS}
    assert verdicts.pop("chunk_created_stable") is Verdict.SKIP  # no stream spans a second
    assert verdicts == {check: v for check, (v, _) in EXPECTED[defect].items()}
    for check, (_, findings) in EXPECTED[defect].items():
        # one finding per (check, path, kind), listing every probe that showed it
        # (array indices as [*]: which choice showed it is not part of what a finding is)
        seen = {
            (f.failure, path_family(f.json_path), p)
            for f in results[check].findings
            for p in f.shown_by
        }
        assert seen == {(kind, path_family(path), p) for kind, path, p in findings}, check


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_each_defect_is_found_on_the_model_like_server_by_exactly_its_check(defect):
    found = {k: v for k, v in model(1, defect).items() if v in FOUND}
    wanted = {check: v for check, (v, _) in EXPECTED[defect].items()}
    assert {k: v for k, v in found.items() if k in wanted} == wanted
    assert {k: v for k, v in found.items() if k not in wanted}.items() <= (
        MODEL_MAY_ALSO.get(defect, {}).items()
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_clean_servers_pass_the_new_checks_provoked(seed):
    toy_verdicts = {k: r.verdict for k, r in toy().items()}
    model_verdicts = model(seed)
    assert {k: v for k, v in model_verdicts.items() if v in FOUND} == {}
    for check in NEW_CHECKS:
        assert (toy_verdicts[check], model_verdicts[check]) == (Verdict.PASS, Verdict.PASS)


def test_the_parallel_probe_asks_for_two_calls_whatever_the_model():
    assert get_check("tool_call_stream_parallel").probes == (PARALLEL,)
    body = get_probe(PARALLEL).body("m")
    assert {k: body[k] for k in ("tool_choice", "parallel_tool_calls", "stream")} == {
        "tool_choice": "required",
        "parallel_tool_calls": True,
        "stream": True,
    }
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]
    assert "Paris and in Tokyo" in body["messages"][0]["content"]
