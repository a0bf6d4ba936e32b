"""What the chunks of a stream share and how each choice opens and closes: a coherent
stream passes; each mutation is exactly its finding, at its JSON path and event."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks._factory import SSE, clean, exchange, expect, judge, outcomes, sse


def chunk(index=0, content=None, *, role="assistant", finish=None, usage=None, **envelope):
    delta = {"role": role} if role is not None else {}
    if content is not None:
        delta["content"] = content
    choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "m",
        "system_fingerprint": "fp",
        "usage": usage,
        "choices": [choice],
        **envelope,
    }


def choice_stream(words, n=1):
    """``n`` choices taking turns: each opens with role, sends its words, then finishes."""
    out = [chunk(i, "") for i in range(n)]
    for word in words:
        out += [chunk(i, word) for i in range(n)]
    return out + [chunk(i, finish="stop") for i in range(n)]


def n_stream(chunks):
    return exchange("chat_n_stream", body=sse(*chunks, USAGE_CHUNK), headers=SSE)


USAGE = {"prompt_tokens": 3, "completion_tokens": 6, "total_tokens": 9}
USAGE_CHUNK = {**chunk(), "choices": [], "usage": USAGE}
WORDS = st.lists(st.sampled_from(["a", " b", " c"]), min_size=1, max_size=3)


@settings(max_examples=15, deadline=None)
@given(WORDS, st.data())
def test_a_coherent_stream_passes_and_each_envelope_mutation_is_its_finding(words, data):
    n = 2  # the chat_n_stream probe asks for n: 2
    chunks = choice_stream(words, n)
    ok = n_stream(chunks)
    assert outcomes(ok) == clean(ok)
    k = data.draw(st.integers(1, len(chunks) - 1), label="chunk")

    field, value = data.draw(
        st.sampled_from([("id", "chatcmpl-2"), ("created", 1_700_000_001), ("model", "m2")])
    )
    broken = [dict(c) for c in chunks]
    broken[k][field] = value
    recorded = n_stream(broken)
    owner = "chunk_created_stable" if field == "created" else "chunk_envelope_stable"
    assert outcomes(recorded) == expect(
        recorded, **{owner: [(f"{field} changes between chunks", f"$.{field}", k)]}
    )
    [finding] = judge(owner, recorded)
    assert (finding.expected, finding.actual) == (chunks[0][field], value)

    # the finish_reason of choice i sent twice: the second is named, at its event
    i = data.draw(st.integers(0, n - 1), label="choice")
    recorded = n_stream([*chunks, chunk(i, finish="stop")])
    assert outcomes(recorded) == expect(
        recorded,
        stream_finish_once=[
            (
                "finish_reason sent more than once for a choice",
                "$.choices[0].finish_reason",
                len(chunks),
            )
        ],
    )

    # content for choice i after its finish_reason
    recorded = n_stream([*chunks, chunk(i, " late")])
    assert outcomes(recorded) == expect(
        recorded,
        stream_finish_once=[
            ("content after the choice's finish_reason", "$.choices[0].delta", len(chunks))
        ],
    )

    # choice i never finishes
    unfinished = [c for c in chunks if c["choices"][0] != chunk(i, finish="stop")["choices"][0]]
    recorded = n_stream(unfinished)
    assert outcomes(recorded) == expect(
        recorded,
        stream_finish_once=[
            ("a choice never got a finish_reason", "$.choices[0].finish_reason", i)
        ],
    )


@pytest.mark.parametrize(("role", "actual"), [(None, "(missing)"), ("user", "user"), ("", "")])
def test_the_first_delta_of_each_choice_must_say_assistant(role, actual):
    chunks = choice_stream([" ok"], n=2)
    chunks[1] = chunk(1, "", role=role)
    recorded = n_stream(chunks)
    findings = judge("stream_first_delta_role", recorded)
    assert [(f.title, f.json_path, f.chunk_index, f.expected, f.actual) for f in findings] == [
        (
            "the first delta of a choice does not say role: assistant",
            "$.choices[0].delta.role",
            1,
            "assistant",
            actual,
        )
    ]


def test_only_the_first_delta_needs_the_role():
    chunks = choice_stream([" a", " b"])
    chunks[1] = chunk(0, " a", role=None)
    assert judge("stream_first_delta_role", n_stream(chunks)) == []


def test_content_in_the_finishing_chunk_itself_is_not_after_the_finish():
    chunks = [chunk(0, ""), chunk(0, "ok", finish="stop")]
    assert judge("stream_finish_once", n_stream(chunks)) == []


def test_a_wrong_typed_envelope_field_is_left_to_the_schema():
    chunks = choice_stream([" a"])
    chunks[1] = {**chunks[1], "created": "soon"}
    recorded = n_stream(chunks)
    assert judge("chunk_envelope_stable", recorded) == []
    assert [(f.title, f.json_path) for f in judge("chunk_schema", recorded)] == [
        ("wrong type: expected integer", "$.created")
    ]


def test_glued_events_are_named_once_per_event_and_their_chunks_still_judged():
    chunks = choice_stream([" a", " b"], n=2)
    glued = "".join(f"data: {json.dumps(c)}\n" for c in chunks) + "\n"
    body = (glued + f"data: {json.dumps(USAGE_CHUNK)}\n\ndata: [DONE]\n\n").encode()
    recorded = exchange("chat_n_stream", body=body, headers=SSE)
    assert outcomes(recorded) == expect(
        recorded,
        stream_event_separation=[("events not separated by a blank line", "$", 0)],
    )
    [finding] = judge("stream_event_separation", recorded)
    assert finding.actual.startswith(f"{len(chunks)} data lines in one event: data: {{")


def test_a_glued_terminator_is_part_of_the_glued_event():
    body = sse(chunk(0, "ok", finish="stop"), done=False) + b"data: [DONE]\n\n"
    body = body.replace(b"}\n\ndata: [DONE]", b"}\ndata: [DONE]")
    recorded = exchange("chat_stream", body=body, headers=SSE)
    findings = judge("stream_event_separation", recorded)
    assert [(f.title, f.chunk_index) for f in findings] == [
        ("events not separated by a blank line", 0)
    ]
    assert judge("chunk_schema", recorded) == []
