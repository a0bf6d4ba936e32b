"""No check PASSes on an exchange in which its behaviour was not provoked.

Walked over the whole catalogue: against the model-like server (every PASS was provoked in
some trial), against model-like servers that each ignore one parameter (its check never
PASSes, even with one trial: it FAILs, or says "not provoked"), and against a lazy model
that ignores every parameter and writes two characters (no check of a parameter PASSes).
"""

from __future__ import annotations

import json

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance import Verdict
from conformance.checks import registered_checks
from conformance.engine._result import CheckResult
from tests.e2e._inprocess import run_app, run_server

SEEDS = (11, 12, 13)
FOUND = {Verdict.FAIL, Verdict.WARN}

# defect -> the checks of the parameter that server ignores (on every request).
IGNORING = {
    "ignore-stop": {"stop_honoured"},
    "stop-text-kept": {"stop_honoured"},
    "ignore-max-tokens": {"max_tokens_honoured", "finish_reason_length"},
    "max-tokens-off-by-one": {"max_tokens_honoured"},
    "n-ignored": {"n_choices"},
    "tool-choice-required-ignored": {"tool_choice_required_calls"},
    "tool-choice-named-wrong": {"tool_choice_named_calls"},
    "tool-choice-none-ignored": {"tool_choice_none_no_calls"},
    "json-object-not-json": {"json_object_content"},
    "json-schema-off-schema": {"json_schema_content"},
    "logprobs-missing": {"logprobs_present"},
    "logprobs-when-off": {"logprobs_absent_when_off"},
    "unrequested-usage": {"stream_usage_unrequested"},
}
# defect -> the checks of the parameter that server ignores on some requests only: an
# exchange it did not hit is rightly judged conformant, so the default trials catch it.
SOMETIMES = {
    "tool-choice-named-as-auto": {"tool_choice_named_calls"},
    "json-schema-sometimes-off": {"json_schema_content"},
}

# What a lazy model that ignores every parameter may PASS: checks of the envelope (its
# role included), the framing and usage arithmetic, and checks that a valid request is
# accepted at all, or a body that is not JSON refused. Every
# other check judges what a parameter does, and must not PASS on it.
LAZY_MAY_PASS = {
    "success_status", "json_content_type", "stream_content_type", "gzip_decoded",
    "response_schema", "chunk_envelope_stable", "stream_first_delta_role", "stream_finish_once",
    "stream_delta_identity_once", "tool_calls_not_empty",
    "chunk_schema", "stream_done_terminator", "stream_framing", "stream_event_separation",
    "usage_arithmetic", "usage_cached_tokens", "seed_accepted", "sampling_bounds_accepted",
    "optional_parameters_accepted", "recovers_after_invalid", "tool_round_trip_accepted",
    "message_roles_accepted", "message_content_parts_accepted", "message_name_accepted",
    "unknown_fields_accepted", "unknown_fields_no_server_error", "reasoning_effort_accepted",
    "error_body_shape", "message_role_assistant", "non_json_body_rejected",
}  # fmt: skip


def not_provoked(result: CheckResult) -> bool:
    return result.verdict is Verdict.SKIP and result.reason.startswith("not provoked")


@pytest.mark.parametrize("seed", SEEDS)
def test_on_the_model_like_server_every_pass_was_provoked_and_nothing_fails(seed):
    results = run_server(mode="model", seed=seed)
    assert {r.check.id: r.verdict for r in results if r.verdict in FOUND} == {}
    for result in results:
        if result.verdict is Verdict.PASS:
            assert result.provoked >= 1, result.check.id
        if not_provoked(result):
            assert result.provoked == 0, result.check.id


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("defect", sorted(IGNORING))
def test_a_server_ignoring_a_parameter_never_passes_its_check_even_in_one_trial(defect, seed):
    results = run_server(mode="model", seed=seed, defects=frozenset({defect}), trials=1)
    for result in results:
        if result.check.id in IGNORING[defect]:
            assert result.verdict in FOUND or not_provoked(result), (
                result.check.id,
                result.verdict,
                result.reason,
            )


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("defect", sorted(SOMETIMES))
def test_a_server_ignoring_a_parameter_sometimes_fails_its_check_in_the_default_trials(
    defect, seed
):
    results = run_server(mode="model", seed=seed, defects=frozenset({defect}))
    assert {r.check.id for r in results if r.verdict in FOUND} >= SOMETIMES[defect]


def _lazy_answer(stream: bool) -> Response:
    envelope = {
        "id": "chatcmpl-lazy",
        "created": 1_735_689_600,
        "model": "conformance/reference-1",
        "system_fingerprint": "fp_lazy",
        "service_tier": "default",
    }
    if not stream:
        message = {"role": "assistant", "content": "Hm", "refusal": None}
        return JSONResponse(
            {
                **envelope,
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}
                ],
                "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
            }
        )
    deltas = [({"role": "assistant", "content": ""}, None), ({"content": "Hm"}, None)]
    deltas.append(({}, "stop"))
    events = [
        "data: "
        + json.dumps(
            {
                **envelope,
                "object": "chat.completion.chunk",
                "usage": None,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
            }
        )
        + "\n\n"
        for delta, finish in deltas
    ]
    events.append("data: [DONE]\n\n")
    return Response("".join(events), media_type="text/event-stream")


async def _lazy(request: Request) -> Response:
    """Any request at all, any parameter: "Hm", finished by itself."""
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = {}
    return _lazy_answer(isinstance(body, dict) and body.get("stream") is True)


def test_a_lazy_model_that_ignores_every_parameter_passes_no_check_of_a_parameter():
    lazy = Starlette(routes=[Route("/v1/chat/completions", _lazy, methods=["POST"])])
    _, results = run_app(lazy, trials=2)
    passed = {r.check.id for r in results if r.verdict is Verdict.PASS}
    assert passed <= LAZY_MAY_PASS, sorted(passed - LAZY_MAY_PASS)
    verdicts = {r.check.id: r for r in results}
    # Not provoked, not passed: what a model that never writes the stop text, never reaches
    # a cap, never calls a tool, never streams usage or logprobs shows nothing about.
    for check_id in (
        "stop_honoured",
        "max_tokens_honoured",
        "finish_reason_length",
        "finish_reason_tool_calls",
        "tool_choice_none_no_calls",
        "logprobs_absent_when_off",
        "stream_usage_unrequested",
    ):
        assert not_provoked(verdicts[check_id]), (check_id, verdicts[check_id].reason)
    # Ignored outright, visibly: failed.
    for check_id in (
        "n_choices",
        "tool_choice_required_calls",
        "tool_choice_named_calls",
        "json_object_content",
        "json_schema_content",
        "logprobs_present",
        "stream_usage_chunk",
    ):
        assert verdicts[check_id].verdict is Verdict.FAIL, check_id
    # Every check judged (client_reads_exchange, a replay per run, is left out of run_app).
    assert {c.id for c in registered_checks()} - {"client_reads_exchange"} == set(verdicts)
