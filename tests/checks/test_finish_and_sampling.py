"""finish_reason for cut answers and tool calls; token caps, stop, n, seed and the sampling
bounds: each judged on exact exchanges, streamed and not, refusals included."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.checks import NotProvoked
from conformance.checks._probes_sampling import CAP
from tests.checks._factory import (
    JSON,
    SSE,
    clean,
    completion,
    exchange,
    judge,
    message_choice,
    outcomes,
    sse,
)
from tests.checks.test_chunk_envelope import chunk
from tests.checks.test_usage_placement import usage, usage_chunk

FINISH = "$.choices[0].finish_reason"


def response(*choices, counts=None):
    return completion(*choices, usage=counts or usage(5, CAP))


def text_choice(text="1 2 3", finish="stop", index=0):
    return message_choice(text, finish=finish, index=index)


def tool_choice(finish="tool_calls", calls=1):
    call = {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    return message_choice(None, finish=finish, tool_calls=[call] * calls)


def plain(probe_id, *choices, counts=None, status=200):
    return exchange(probe_id, body=response(*choices, counts=counts), status=status, headers=JSON)


def refused(probe_id, status, message="no"):
    body = {"error": {"message": message, "type": "invalid_request_error"}}
    return exchange(probe_id, body=body, status=status, headers=JSON)


def found(check_id, recorded, **kw):
    result = judge(check_id, recorded, **kw)
    return (
        str(result)
        if not isinstance(result, list)
        else [(f.title, f.json_path, f.chunk_index) for f in result]
    )


# -- finish_reason: length ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("probe_id", "cap"),
    [("cap_max_tokens", "max_tokens"), ("cap_max_completion_tokens", "max_completion_tokens")],
)
@pytest.mark.parametrize("finish", ["stop", "content_filter", None])
def test_an_answer_that_reached_its_cap_must_finish_with_length(probe_id, cap, finish):
    ok = plain(probe_id, text_choice(finish="length"))
    assert outcomes(ok) == clean(ok)
    assert found("finish_reason_length", plain(probe_id, text_choice(finish=finish))) == [
        (f"an answer that reached {cap} does not finish with length", FINISH, None)
    ]


def test_a_model_that_stopped_below_the_cap_is_not_judged():
    recorded = plain("cap_max_tokens", text_choice(), counts=usage(5, CAP - 1))
    assert found("finish_reason_length", recorded) == (
        f"the model stopped by itself after {CAP - 1} of {CAP} tokens (max_tokens)"
    )
    recorded = plain("cap_max_tokens", text_choice(), counts={"prompt_tokens": 1})
    assert found("finish_reason_length", recorded) == (
        "the answer reports no completion_tokens, so a cut cannot be told"
    )


def test_a_streamed_cut_answer_is_named_at_its_finishing_event():
    chunks = [chunk(0, ""), chunk(0, "1"), chunk(0, finish="stop"), usage_chunk(usage(5, CAP))]
    recorded = exchange("cap_max_tokens_stream", body=sse(*chunks), headers=SSE)
    assert found("finish_reason_length", recorded) == [
        ("an answer that reached max_tokens does not finish with length", FINISH, 2)
    ]


# -- finish_reason: tool_calls --------------------------------------------------------------


def test_a_tool_call_must_finish_with_tool_calls():
    ok = plain("tool_auto", tool_choice(), counts=usage(9, 4))
    assert outcomes(ok) == clean(ok)
    assert found("finish_reason_tool_calls", plain("tool_auto", tool_choice("stop"))) == [
        ("a choice with tool calls does not finish with tool_calls", FINISH, None)
    ]
    assert found(
        "finish_reason_tool_calls", plain("tool_auto", text_choice("hi", "tool_calls"))
    ) == [("finish_reason is tool_calls but the choice has no tool call", FINISH, None)]
    assert found("finish_reason_tool_calls", plain("tool_auto", text_choice("hi"))) == (
        "the model answered without calling a tool"
    )


def test_a_forced_tool_call_finishing_with_stop_is_named_as_forced():
    assert found("finish_reason_tool_calls_forced", plain("tools_named", tool_choice("stop"))) == [
        (
            "a choice with tool calls does not finish with tool_calls (the tool was forced)",
            FINISH,
            None,
        )
    ]
    assert found("finish_reason_tool_calls_forced", plain("tools_required", tool_choice())) == []


def test_tools_declined_with_a_4xx_are_unsupported():
    result = judge("finish_reason_tool_calls", refused("tool_auto", 400, "tools are not supported"))
    assert type(result).__name__ == "Unsupported"
    assert str(result) == "the endpoint declined tools (400: tools are not supported)"


def test_tools_refused_without_a_json_error_are_a_finding_not_unsupported():
    page = exchange("tool_auto", status=400, body="<html>Bad Request</html>", headers={})
    [finding] = judge("finish_reason_tool_calls", page)
    assert (finding.title, finding.actual) == (
        "a valid request with tools was answered with 400",
        "400: <html>Bad Request</html>",
    )


# -- token caps -----------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40), st.sampled_from(["chat", "cap_max_tokens", "chat_n"]))
def test_completion_tokens_may_not_exceed_the_cap_times_n(completion, probe_id):
    cap, n = {"chat": (8, 1), "cap_max_tokens": (CAP, 1), "chat_n": (8, 2)}[probe_id]
    choices = [text_choice(index=i) for i in range(n)]
    findings = judge("max_tokens_honoured", plain(probe_id, *choices, counts=usage(5, completion)))
    if completion < cap * n:  # stopped by itself below the cap: the cap was not provoked
        assert (
            str(findings) == f"the model stopped by itself after {completion} of {cap * n} tokens"
        )
        assert isinstance(findings, NotProvoked)
    elif completion == cap * n:
        assert findings == []
    else:
        [finding] = findings
        assert (finding.title, finding.json_path, finding.actual) == (
            "completion_tokens exceeds max_tokens",
            "$.usage.completion_tokens",
            completion,
        )
        assert finding.expected == (
            f"at most {cap * n} (max_tokens: {cap}" + (f", n: {n})" if n > 1 else ")")
        )


def test_a_streamed_cap_is_judged_on_the_usage_chunk():
    chunks = [chunk(0, ""), chunk(0, "1", finish="length"), usage_chunk(usage(5, CAP + 1))]
    recorded = exchange("cap_max_tokens_stream", body=sse(*chunks), headers=SSE)
    assert found("max_tokens_honoured", recorded) == [
        ("completion_tokens exceeds max_tokens", "$.usage.completion_tokens", 2)
    ]


def test_a_refused_cap_probe_is_a_finding_but_a_refused_shared_probe_is_not():
    assert found("max_tokens_honoured", refused("cap_max_completion_tokens", 400)) == [
        ("a valid request with a token cap was answered with 400", "$", None)
    ]
    assert found("max_tokens_honoured", refused("chat", 400)) == (
        "the request was answered with status 400; see success_status"
    )


# -- stop -----------------------------------------------------------------------------------


@pytest.mark.parametrize("probe_id", ["stop_list", "stop_string"])
def test_the_stop_text_must_not_appear(probe_id):
    free = {"stop_free": plain("stop_free", text_choice("The sea is calm."))}
    stopped = plain(probe_id, text_choice("Th"))
    assert found("stop_honoured", stopped, peers=free) == []
    [finding] = judge("stop_honoured", plain(probe_id, text_choice("The sea")), peers=free)
    assert (finding.title, finding.json_path, finding.actual) == (
        "the answer goes on past a stop sequence",
        "$.choices[0].message.content",
        "'e' at character 2 of 'The sea'",
    )
    # the stop text kept at the end of a cut answer is the same finding
    [finding] = judge("stop_honoured", plain(probe_id, text_choice("The")), peers=free)
    assert finding.actual == "'e' at character 2 of 'The'"


@pytest.mark.parametrize("probe_id", ["stop_list", "stop_string"])
def test_stop_is_not_provoked_unless_the_endpoint_writes_the_stop_text(probe_id):
    stopped = plain(probe_id, text_choice("Oh"))
    lacking = {"stop_free": plain("stop_free", text_choice("Uh, hm. Ok."))}
    result = judge("stop_honoured", stopped, peers=lacking)
    assert isinstance(result, NotProvoked)
    assert str(result).startswith("the endpoint's answer without stop holds none of ")
    assert str(result).endswith(": 'Uh, hm. Ok.'")
    alone = judge("stop_honoured", stopped)
    assert isinstance(alone, NotProvoked)
    assert str(alone) == "no answer without stop (stop_free) to show the stop text is written"


def test_a_stop_string_refused_under_strict_is_right_and_under_openai_is_a_finding():
    recorded = refused("stop_string", 422)
    assert found("stop_honoured", recorded) == (
        "the request breaks $.stop: matches none of the allowed shapes (array or null) in this "
        "contract, so how it is refused (422) is right"
    )
    assert found("stop_honoured", recorded, profile="openai") == [
        ("a valid request with stop was answered with 422", "$", None)
    ]


# -- n, seed and the sampling bounds --------------------------------------------------------


@pytest.mark.parametrize(
    ("indices", "title"),
    [
        ([0], "n: 2 answered with 1 choice"),
        ([0, 1, 2], "n: 2 answered with 3 choices"),
        ([0, 0], "the choices of n: 2 are not indexed 0 to 1"),
        ([1, 2], "the choices of n: 2 are not indexed 0 to 1"),
    ],
)
def test_n_gives_exactly_n_choices_indexed_from_0(indices, title):
    ok = plain("chat_n", text_choice(index=0), text_choice("x", index=1))
    assert found("n_choices", ok) == []
    choices = [text_choice(str(i), index=i) for i in indices]
    findings = judge("n_choices", plain("chat_n", *choices))
    assert [(f.title, f.json_path, f.actual) for f in findings] == [
        (title, "$.choices", f"indices {indices}")
    ]


def test_a_silent_single_streamed_choice_is_named():
    chunks = [chunk(0, ""), chunk(0, "1", finish="stop"), usage_chunk(usage(5, 1))]
    recorded = exchange("chat_n_stream", body=sse(*chunks), headers=SSE)
    assert found("n_choices", recorded) == [("n: 2 answered with 1 choice", "$.choices", None)]


def test_n_declined_with_a_4xx_is_unsupported_and_a_5xx_is_a_finding():
    result = judge("n_choices", refused("chat_n", 400, "n > 1 is not supported"))
    assert type(result).__name__ == "Unsupported"
    assert found("n_choices", refused("chat_n", 500)) == [
        ("a valid request with n was answered with 500", "$", None)
    ]


def test_seed_must_be_accepted():
    assert found("seed_accepted", plain("seed", text_choice())) == []
    assert found("seed_accepted", refused("seed", 400)) == [
        ("a valid request with seed was answered with 400", "$", None)
    ]


@pytest.mark.parametrize(
    ("probe_id", "name", "value"),
    [
        ("temperature_min", "temperature", 0),
        ("temperature_max", "temperature", 2),
        ("top_p_min", "top_p", 0),
        ("top_p_max", "top_p", 1),
        ("presence_penalty_min", "presence_penalty", -2),
        ("presence_penalty_max", "presence_penalty", 2),
        ("frequency_penalty_min", "frequency_penalty", -2),
        ("frequency_penalty_max", "frequency_penalty", 2),
    ],
)
def test_each_bound_must_be_accepted(probe_id, name, value):
    assert found("sampling_bounds_accepted", plain(probe_id, text_choice())) == []
    [finding] = judge("sampling_bounds_accepted", refused(probe_id, 400, "out of range"))
    assert (finding.title, finding.json_path, finding.schema_path) == (
        f"{name} {value} (inside the document's range) was refused",
        f"$.{name}",
        f"#/components/schemas/ChatCompletionRequest/properties/{name}",
    )
    assert finding.actual == "400: out of range"
