"""Issue 19's rules on exchanges built by hand: parallel streamed tool calls (one index per
call, however fragmented and interleaved), identity fields sent once (per profile), and no
empty ``tool_calls``. A valid payload gives no finding; each mutation gives exactly its
finding at its JSON path and event."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.checks import NotProvoked
from tests.checks._factory import GENERATED, SSE, clean, exchange, expect, judge, outcomes, sse
from tests.checks.test_tools import answer, chunk, fragments, streamed

PARALLEL = "tools_parallel_stream"
CALLS = "$.choices[0].delta.tool_calls[0]"
CITIES = ("Paris", "Tokyo")


def call_deltas(index, city, cuts=(5,)):
    """The deltas of one call: its first (id, type, name) and its arguments in pieces."""
    text = json.dumps({"city": city})
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    head = {
        "index": index,
        "id": f"call_{index}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    rest = [{"index": index, "function": {"arguments": p}} for p in pieces]
    return [{"tool_calls": [d]} for d in (head, *rest)]


def interleave(first, second, takes):
    """The deltas of two calls merged, each in its own order: ``takes`` says whose is next.
    Index 0 opens (a new index must be the next one: openai-python inserts a call at its
    index, so an index 1 that comes first would take the place of index 0)."""
    out, a, b = [first[0]], list(first[1:]), list(second)
    for take_first in takes:
        source = a if take_first or not b else b
        if source:
            out.append(source.pop(0))
    return [*out, *a, *b]


def stream(deltas):
    return [
        chunk({"role": "assistant", "content": None}),
        *map(chunk, deltas),
        chunk({}, finish="tool_calls"),
    ]


def parallel(chunks):
    return exchange(PARALLEL, body=sse(*chunks), headers=SSE)


def two_calls():
    return stream([*call_deltas(0, "Paris"), *call_deltas(1, "Tokyo")])


cuts = st.lists(st.integers(0, 20), max_size=4)


@GENERATED
@given(cuts, cuts, st.lists(st.booleans(), max_size=12), st.sampled_from(["strict", "openai"]))
def test_two_calls_fragmented_and_interleaved_any_way_pass(cuts_a, cuts_b, takes, profile):
    deltas = interleave(call_deltas(0, "Paris", cuts_a), call_deltas(1, "Tokyo", cuts_b), takes)
    recorded = parallel(stream(deltas))
    assert outcomes(recorded, profile=profile) == clean(recorded)


MUTATIONS = {
    # every call on index 0: the client joins them into one call
    "all on index 0": (
        lambda cs: [c["choices"][0]["delta"]["tool_calls"][0].update(index=0) for c in cs[4:7]],
        {"tool_call_stream_parallel": [("a later delta changes the tool call's id",
                                        f"{CALLS}.id", 4)],
         # the one call is two merged: its arguments are no call's, nothing to judge
         "tool_call_arguments": "n/a"},
    ),
    # the second call carries the first one's id under its own index
    "one id, two indexes": (
        lambda cs: cs[4]["choices"][0]["delta"]["tool_calls"][0].update(id="call_0"),
        {"tool_call_stream_parallel": [("one tool-call id under two indexes", f"{CALLS}.id", 4)]},
    ),
    "indexes with a gap": (
        lambda cs: [c["choices"][0]["delta"]["tool_calls"][0].update(index=2) for c in cs[4:7]],
        {"tool_call_stream_parallel": [("tool-call indices are not contiguous from 0",
                                        f"{CALLS}.index", 4)]},
    ),
    # each fragment says the whole arguments so far
    "arguments repeated whole": (
        lambda cs: cs[3]["choices"][0]["delta"]["tool_calls"][0]["function"].update(
            arguments='{"city": "Paris"}'
        ),
        {"tool_call_arguments": [("tool-call arguments are not JSON",
                                  f"{CALLS}.function.arguments", 1)]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", MUTATIONS)
def test_each_mutation_of_parallel_calls_is_exactly_its_finding(name):
    mutate, changes = MUTATIONS[name]
    chunks = two_calls()
    mutate(chunks)
    recorded = parallel(chunks)
    assert outcomes(recorded, profile="openai") == expect(recorded, **changes)


def test_one_call_where_two_were_asked_is_not_provoked():
    recorded = parallel(stream(call_deltas(0, "Paris")))
    result = judge("tool_call_stream_parallel", recorded)
    assert isinstance(result, NotProvoked)
    assert str(result) == "the stream carried 1 tool call(s), not two"
    assert outcomes(recorded) == expect(recorded, tool_call_stream_parallel="n/a")


# -- identity fields sent once ------------------------------------------------------------

ROLE_AGAIN = ("a later delta sends the role again", "$.choices[0].delta.role")
ID_AGAIN = ("a later delta of a tool call sends its id again", f"{CALLS}.id")
NAME_AGAIN = ("a later delta of a tool call sends its function name again",
              f"{CALLS}.function.name")  # fmt: skip


def again(chunks, k, **fields):
    """Chunk ``k``'s tool-call delta with ``fields`` sent again."""
    call = chunks[k]["choices"][0]["delta"]["tool_calls"][0]
    for key, value in fields.items():
        if key == "name":
            call["function"]["name"] = value
        else:
            call[key] = value
    return chunks


IDENTITY = {
    # (chunks, findings under openai, findings under strict)
    "role on a later delta": (
        lambda cs: cs[2]["choices"][0]["delta"].update(role="assistant"),
        [(*ROLE_AGAIN, 2)],
        [],  # the document demands role on every delta
    ),
    "another role on a later delta": (
        lambda cs: cs[2]["choices"][0]["delta"].update(role="user"),
        [("a later delta changes the role", "$.choices[0].delta.role", 2)],
        [("a later delta changes the role", "$.choices[0].delta.role", 2)],
    ),
    "id sent again": (lambda cs: again(cs, 2, id="call_1"), [(*ID_AGAIN, 2)], [(*ID_AGAIN, 2)]),
    "name sent again": (
        lambda cs: again(cs, 2, name="get_weather"),
        [(*NAME_AGAIN, 2)],
        [],  # the document demands name in every FunctionCall
    ),
    # the SDKs overwrite type, and an empty string joins to nothing (recorded on a provider)
    "type and an empty name sent again": (
        lambda cs: again(cs, 2, type="function", name=""), [], []
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", IDENTITY)
@pytest.mark.parametrize("profile", ["openai", "strict"])
def test_identity_fields_sent_again_are_findings_as_each_profile_reads_them(name, profile):
    mutate, under_openai, under_strict = IDENTITY[name]
    chunks = [*fragments(['{"city": ', '"Paris"}']), chunk({}, finish="tool_calls")]
    mutate(chunks)
    found = judge("stream_delta_identity_once", streamed(chunks), profile=profile)
    expected = under_openai if profile == "openai" else under_strict
    assert [(f.title, f.json_path, f.chunk_index) for f in found] == expected


def test_the_role_on_every_delta_is_one_finding_per_later_delta_under_openai():
    chunks = [*fragments(['{"city": ', '"Paris"}']), chunk({}, finish="tool_calls")]
    for c in chunks:
        c["choices"][0]["delta"]["role"] = "assistant"
    found = judge("stream_delta_identity_once", streamed(chunks), profile="openai")
    assert [f.chunk_index for f in found] == [1, 2, 3, 4]
    assert judge("stream_delta_identity_once", streamed(chunks), profile="strict") == []


def test_a_stream_of_one_delta_per_choice_cannot_repeat_anything():
    recorded = streamed([chunk({"role": "assistant", "content": "hi"}, finish="stop")])
    result = judge("stream_delta_identity_once", recorded, profile="openai")
    assert isinstance(result, NotProvoked)
    assert str(result) == "no choice of the stream had a second delta"


# -- no empty tool_calls --------------------------------------------------------------------

EMPTY = "tool_calls is an empty list"


def test_an_empty_tool_calls_list_in_a_message_is_a_finding_null_is_not():
    for value, expected in (([], [(EMPTY, "$.choices[0].message.tool_calls", None)]), (None, [])):
        body = answer(content="hi", finish="stop")
        body["choices"][0]["message"]["tool_calls"] = value
        found = judge("tool_calls_not_empty", exchange("chat", body=body))
        assert [(f.title, f.json_path, f.chunk_index) for f in found] == expected


def test_an_empty_tool_calls_list_in_a_delta_is_a_finding_at_its_event():
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "hi", "tool_calls": []}),
        chunk({}, finish="stop"),
    ]
    recorded = exchange("chat_stream", body=sse(*chunks), headers=SSE)
    assert outcomes(recorded, profile="openai") == expect(
        recorded, tool_calls_not_empty=[(EMPTY, "$.choices[0].delta.tool_calls", 1)]
    )
    fine = copy.deepcopy(chunks)
    del fine[1]["choices"][0]["delta"]["tool_calls"]
    recorded = exchange("chat_stream", body=sse(*fine), headers=SSE)
    assert outcomes(recorded, profile="openai") == clean(recorded)
