"""Tool checks on exchanges built by hand: a valid answer passes every check; each mutation
is exactly its finding, at its JSON path."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.checks import NotProvoked, Unsupported
from tests.checks._factory import (
    SSE,
    clean,
    completion,
    exchange,
    expect,
    judge,
    message_choice,
    outcomes,
    sse,
)

CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}
CALLS = "$.choices[0].message.tool_calls"
DELTA = "$.choices[0].delta.tool_calls[0]"
BREAKS = "tool-call arguments break the function's parameters"


def answer(*calls, content=None, finish="tool_calls"):
    called = {"tool_calls": list(calls)} if calls else {}
    return completion(message_choice(content, finish=finish, **called))


def with_call(**changes):
    call = copy.deepcopy(CALL)
    for key, value in changes.items():
        if key in ("name", "arguments"):
            call["function"][key] = value
        elif value is None:
            del call[key]
        else:
            call[key] = value
    return call


def chunk(delta, finish=None):
    return {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }


def fragments(pieces, *, first=None):
    """A streamed call: a first delta with id/type/name, then one delta per arguments piece."""
    head = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    head.update(first or {})
    deltas = [{"tool_calls": [head]}]
    deltas += [{"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces]
    return [chunk({"role": "assistant", "content": None}), *map(chunk, deltas)]


def streamed(chunks):
    return exchange("tools_required_stream", body=sse(*chunks), headers=SSE)


def test_a_valid_forced_call_passes_every_check_of_its_probe():
    recorded = exchange("tools_required", body=answer(CALL))
    assert outcomes(recorded) == clean(recorded)
    assert {
        "tool_choice_required_calls",
        "tool_call_shape",
        "tool_call_arguments",
        "tool_round_trip_accepted",
    } <= set(clean(recorded))


ARGS = f"{CALLS}[0].function.arguments"
MUTATIONS = {
    "no id": (
        with_call(id=None),
        {"tool_call_shape": [("a tool call has no id", f"{CALLS}[0].id", None)]},
    ),
    "wrong type": (
        with_call(type="tool"),
        {"tool_call_shape": [('a tool call\'s type is not "function"', f"{CALLS}[0].type", None)]},
    ),
    "undeclared name": (
        with_call(name="launch"),
        {
            "tool_call_shape": [
                (
                    "a tool call names a function that was not declared",
                    f"{CALLS}[0].function.name",
                    None,
                )
            ]
        },
    ),
    "arguments object": (
        with_call(arguments={"city": "Paris"}),
        {"tool_call_arguments": [("tool-call arguments are not a string", ARGS, None)]},
    ),
    "arguments not JSON": (
        with_call(arguments="{city: Paris}"),
        {"tool_call_arguments": [("tool-call arguments are not JSON", ARGS, None)]},
    ),
    "arguments off schema": (
        with_call(arguments='{"town": "Paris"}'),
        {
            "tool_call_arguments": [
                (f"{BREAKS} (`required`)", ARGS, None),
                (f"{BREAKS} (`additionalProperties`)", ARGS, None),
            ]
        },
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_mutation_of_a_call_is_exactly_its_finding(name):
    call, changed = MUTATIONS[name]
    recorded = exchange("tools_required", body=answer(call))
    assert outcomes(recorded) == expect(recorded, **changed)


def test_required_answered_in_text_is_a_finding_unless_cut_before_anything():
    text = exchange("tools_required", body=answer(content="It is sunny.", finish="stop"))
    [finding] = judge("tool_choice_required_calls", text)
    assert (finding.title, finding.json_path, finding.actual) == (
        'tool_choice "required" answered without a tool call',
        CALLS,
        "no tool call; the answer says 'It is sunny.'",
    )
    for said in ("", None):  # cut before any text: content empty or null
        cut = exchange("tools_required", body=answer(content=said, finish="length"))
        assert str(judge("tool_choice_required_calls", cut)) == (
            "the answer was cut by max_tokens before any call or text"
        )
    silent = exchange("tools_required", body=answer(content=None, finish="stop"))
    [finding] = judge("tool_choice_required_calls", silent)
    assert finding.actual == "no tool call; the answer says ''"


def test_named_choice_must_call_that_function_and_none_must_call_nothing():
    clock = with_call(name="get_time", arguments="{}")
    assert judge("tool_choice_named_calls", exchange("tools_named", body=answer(clock))) == []
    [wrong] = judge("tool_choice_named_calls", exchange("tools_named", body=answer(CALL)))
    assert (wrong.title, wrong.json_path, wrong.expected, wrong.actual) == (
        "tool_choice named one function but another was called",
        f"{CALLS}[0].function.name",
        "get_time",
        "get_weather",
    )
    called = judge("tool_choice_none_no_calls", exchange("tools_none", body=answer(CALL)))
    assert [(f.title, f.json_path) for f in called] == [
        ('tool_choice "none" answered with a tool call', f"{CALLS}[0]")
    ]
    text = exchange("tools_none", body=answer(content="o", finish="stop"))
    required = {"tools_required": exchange("tools_required", body=answer(CALL))}
    assert judge("tool_choice_none_no_calls", text, peers=required) == []
    # an endpoint that calls no tool even under "required" shows nothing by not calling one
    never = {"tools_required": exchange("tools_required", body=answer(content="o"))}
    for peers in (never, {}):
        result = judge("tool_choice_none_no_calls", text, peers=peers)
        assert str(result) == 'the endpoint called no tool even under tool_choice "required"'
        assert isinstance(result, NotProvoked)


def test_a_function_without_parameters_gets_exactly_an_empty_object():
    for arguments, title in [
        ("{}", None),
        (" { } ", None),
        ("", 'tool-call arguments of a function without parameters are not "{}"'),
        ("null", 'tool-call arguments of a function without parameters are not "{}"'),
        ('{"x": 1}', 'tool-call arguments of a function without parameters are not "{}"'),
    ]:
        call = with_call(name="get_time", arguments=arguments)
        found = judge("tool_call_arguments", exchange("tools_named", body=answer(call)))
        assert [f.title for f in found] == ([title] if title else []), arguments


def test_arguments_cut_by_max_tokens_are_not_judged_but_a_finished_call_is():
    partial = with_call(arguments='{"city": "Par')
    cut = exchange("tools_required", body=answer(partial, finish="length"))
    result = judge("tool_call_arguments", cut)
    assert isinstance(result, NotProvoked)
    assert str(result) == "every call was cut by max_tokens: its arguments may be partial"
    finished = exchange("tools_required", body=answer(partial, finish="tool_calls"))
    assert [f.title for f in judge("tool_call_arguments", finished)] == [
        "tool-call arguments are not JSON"
    ]


def test_a_declined_tools_request_is_unsupported():
    refusal = {"error": {"message": "tools are not supported", "type": "invalid_request_error"}}
    declined = exchange("tools_required", status=400, body=refusal)
    result = judge("tool_choice_required_calls", declined)
    assert isinstance(result, Unsupported)
    assert str(result) == (
        'the endpoint declined tools with tool_choice "required" (400: tools are not supported)'
    )
    html = exchange("tools_required", status=400, body="<html>no</html>")
    assert not isinstance(judge("tool_choice_required_calls", html), Unsupported)


@given(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12),
    st.lists(st.integers(0, 40), max_size=5),
)
def test_any_fragmentation_of_valid_arguments_rebuilds_to_a_passing_call(city, cuts):
    text = json.dumps({"city": city})
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    recorded = streamed([*fragments(pieces), chunk({}, finish="tool_calls")])
    assert outcomes(recorded) == clean(recorded)
    named = exchange("tools_named_stream", body=recorded.body, headers=SSE)
    # no non-streamed twin here to compare with
    assert outcomes(named) == expect(named, tool_call_stream_matches="n/a")
    whole = exchange("tools_named_weather", body=answer(with_call(arguments=text)))
    assert judge("tool_call_stream_matches", named, peers={"tools_named_weather": whole}) == []


STREAM_MUTATIONS = {
    "no index": (
        lambda cs: cs[2]["choices"][0]["delta"]["tool_calls"][0].pop("index"),
        [("a tool-call delta has no integer index", f"{DELTA}.index", 2)],
    ),
    "first without id": (
        lambda cs: cs[1]["choices"][0]["delta"]["tool_calls"][0].pop("id"),
        [("the first delta of a tool call carries no id", f"{DELTA}.id", 1)],
    ),
    "first without name": (
        lambda cs: cs[1]["choices"][0]["delta"]["tool_calls"][0]["function"].pop("name"),
        [("the first delta of a tool call carries no function name",
          f"{DELTA}.function.name", 1)],
    ),
    "index from 1": (
        lambda cs: [c["choices"][0]["delta"]["tool_calls"][0].update(index=1) for c in cs[1:4]],
        [("tool-call indices are not contiguous from 0", f"{DELTA}.index", 1)],
    ),
    "later id changes": (
        lambda cs: cs[2]["choices"][0]["delta"]["tool_calls"][0].update(id="call_2"),
        [("a later delta changes the tool call's id", f"{DELTA}.id", 2)],
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", STREAM_MUTATIONS)
def test_each_mutation_of_tool_call_deltas_is_exactly_its_finding(name):
    mutate, expected = STREAM_MUTATIONS[name]
    chunks = [*fragments(['{"city": ', '"Paris"}']), chunk({}, finish="tool_calls")]
    mutate(chunks)
    found = judge("tool_call_stream_deltas", streamed(chunks))
    assert [(f.title, f.json_path, f.chunk_index) for f in found] == expected


def test_fragments_that_do_not_join_into_json_are_an_arguments_finding():
    chunks = [*fragments(['{"city": ', '"Paris"']), chunk({}, finish="tool_calls")]
    found = judge("tool_call_arguments", streamed(chunks))
    assert [(f.title, f.json_path, f.chunk_index) for f in found] == [
        ("tool-call arguments are not JSON", f"{DELTA}.function.arguments", 1)
    ]  # fmt: skip


def test_a_stream_calling_another_function_than_the_plain_answer_is_a_warning():
    chunks = fragments(["{}"], first={"function": {"name": "get_time", "arguments": ""}})
    whole = exchange("tools_named_weather", body=answer(CALL))
    named = exchange("tools_named_stream", body=sse(*chunks), headers=SSE)
    [found] = judge("tool_call_stream_matches", named, peers={"tools_named_weather": whole})
    assert (found.title, found.expected, found.actual) == (
        "streamed tool calls call other functions than the non-streamed answer",
        ["get_weather"],
        ["get_time"],
    )


@pytest.mark.parametrize("probe_id", ["tools_round_trip_null", "tools_round_trip_empty"])
def test_a_refused_round_trip_fails_unless_tools_are_declined_altogether(probe_id):
    refusal = {"error": {"message": "bad content", "type": "invalid_request_error"}}
    refused = exchange(probe_id, status=400, body=refusal)
    [finding] = judge("tool_round_trip_accepted", refused)
    content = "null" if probe_id.endswith("null") else '""'
    assert (finding.title, finding.json_path, finding.actual) == (
        f"an assistant tool_calls message with content {content} and its tool reply was refused",
        "$.messages[1]",
        "400: bad content",
    )
    declined = exchange("tools_required", status=400, body=refusal)
    result = judge("tool_round_trip_accepted", refused, peers={"tools_required": declined})
    assert isinstance(result, Unsupported)
    assert judge("tool_round_trip_accepted", exchange(probe_id, body=answer(content="ok"))) == []
