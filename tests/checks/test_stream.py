"""The streamed answer: chunks generated from the contract, framed as an event stream, then
broken one way at a time."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.checks._probes import MAX_TOKENS
from conformance.wire._sse import INVALID_UTF8, UNKNOWN_FIELD
from tests.checks._factory import (
    CHUNK_OK,
    GENERATED,
    SSE,
    clean,
    exchange,
    expect,
    judge,
    outcomes,
    sse,
    stream,
    usage_counts,
    valid,
    with_usage,
)

CHUNK = "#/components/schemas/ChatCompletionChunk"


def as_stream(chunks, counts):
    """Generated chunks made one coherent stream asked for usage: one envelope (id, created,
    model of the first), one choice (index 0) whose deltas all say role assistant and which
    finishes once, on the last content chunk; then the usage chunk, with no choices."""
    envelope = {name: chunks[0][name] for name in ("id", "created", "model")}
    out = []
    for k, chunk in enumerate(chunks):
        choice = chunk["choices"][0] if chunk["choices"] else {"logprobs": None}
        delta = {**choice.get("delta", {}), "role": "assistant"}
        delta.pop("tool_calls", None)
        choice = {
            **choice,
            "index": 0,
            "delta": delta,
            "finish_reason": "stop" if k == len(chunks) - 1 else None,
        }
        out.append({**chunk, **envelope, "choices": [choice], "usage": None})
    return [*out, with_usage({**chunks[-1], **envelope, "choices": []}, counts)]


streams = st.builds(
    as_stream,
    st.lists(valid("ChatCompletionChunk"), min_size=1, max_size=3),
    usage_counts(MAX_TOKENS),
)


def usage_stream(body, **kw):
    return exchange("chat_stream_usage", body=body, headers=SSE, **kw)


@GENERATED
@given(streams, st.data())
def test_a_valid_stream_passes_and_each_mutation_is_exactly_its_findings(chunks, data):
    ok = usage_stream(sse(*chunks))
    assert outcomes(ok) == clean(ok)
    last = len(chunks) - 1  # the usage chunk; the content chunks come before it
    k = data.draw(st.integers(0, last - 1), label="chunk")

    # a required property dropped from chunk k: one finding, naming the event
    field = data.draw(st.sampled_from(["id", "created", "model", "object"]))
    broken = copy.deepcopy(chunks)
    del broken[k][field]
    recorded = usage_stream(sse(*broken))
    assert outcomes(recorded) == expect(
        recorded, chunk_schema=[(f"required property {field!r} is missing", "$", k)]
    )
    [finding] = judge("chunk_schema", recorded)
    assert (finding.schema_path, finding.chunk_index) == (f"{CHUNK}/required", k)

    # a wrong type in chunk k
    broken = copy.deepcopy(chunks)
    broken[k]["created"] = None
    recorded = usage_stream(sse(*broken))
    assert outcomes(recorded) == expect(
        recorded, chunk_schema=[("wrong type: expected integer", "$.created", k)]
    )

    # another id in chunk k (k > 0): the envelope is not stable
    if k > 0:
        broken = copy.deepcopy(chunks)
        broken[k]["id"] += "-other"
        recorded = usage_stream(sse(*broken))
        assert outcomes(recorded) == expect(
            recorded, chunk_envelope_stable=[("id changes between chunks", "$.id", k)]
        )

    # chunk k is not JSON: named with its event; if it carried the finish_reason, the
    # choice never finishes (or, when it was the only content chunk, there is no choice)
    texts = [json.dumps(c) for c in chunks]
    texts[k] = texts[k][:-1]
    recorded = usage_stream(sse(*texts))
    finish = []
    if k == last - 1:
        never = ("a choice never got a finish_reason", "$.choices[0].finish_reason", 0)
        finish = "n/a" if last == 1 else [never]
    assert outcomes(recorded) == expect(
        recorded,
        chunk_schema=[("data is not JSON", "$", k)],
        stream_finish_once=finish,
    )

    # the usage chunk is not JSON: the stream carried no usage
    texts = [json.dumps(c) for c in chunks]
    texts[last] = texts[last][:-1]
    recorded = usage_stream(sse(*texts))
    assert outcomes(recorded) == expect(
        recorded,
        chunk_schema=[("data is not JSON", "$", last)],
        usage_arithmetic="n/a",
        max_tokens_honoured="n/a",
        stream_usage_chunk=[
            ("a stream asked for include_usage carried no usage", "$.usage", last - 1)
        ],
    )

    # usage that does not add up, on the last chunk
    broken = copy.deepcopy(chunks)
    broken[last]["usage"]["total_tokens"] += 1
    recorded = usage_stream(sse(*broken))
    assert outcomes(recorded) == expect(
        recorded,
        usage_arithmetic=[
            (
                "usage.total_tokens is not prompt_tokens + completion_tokens",
                "$.usage.total_tokens",
                last,
            ),
        ],
    )

    # no [DONE]; data after [DONE]; a stream answered as plain JSON
    recorded = usage_stream(sse(*chunks, done=False))
    assert outcomes(recorded) == expect(
        recorded,
        stream_done_terminator=[("the stream is not terminated by data: [DONE]", "$", last)],
    )
    recorded = usage_stream(sse(*chunks) + sse(chunks[0], done=False))
    assert outcomes(recorded) == expect(
        recorded, stream_done_terminator=[("data after [DONE]", "$", last + 2)]
    )
    recorded = exchange("chat_stream_usage", body=chunks[-1])
    assert outcomes(recorded) == {
        **dict.fromkeys(clean(recorded), "n/a"),
        "success_status": [],
        "gzip_decoded": [],  # the body decoded as declared (it was not compressed)
        "stream_content_type": [("stream: true answered as plain JSON", "$", None)],
        # the JSON body is judged as an answer: its usage adds up; below the cap, the cap
        # was not provoked
        "usage_arithmetic": [],
        "usage_cached_tokens": [],
        "max_tokens_honoured": clean(recorded)["max_tokens_honoured"] or [],
    }


@pytest.mark.parametrize(
    "body",
    [
        sse(CHUNK_OK),
        sse(CHUNK_OK).replace(b"\n", b"\r\n"),
        sse(CHUNK_OK).replace(b"\n", b"\r"),
        sse(CHUNK_OK).replace(b"data: ", b"data:"),
        b": keep-alive\n\n" + sse(CHUNK_OK),
        b"\xef\xbb\xbf" + sse(CHUNK_OK),
    ],
    ids=["lf", "crlf", "cr", "no-space", "comment", "bom"],
)
def test_every_legal_framing_of_a_stream_passes(body):
    recorded = stream(body)
    assert outcomes(recorded) == clean(recorded)


def test_framing_problems_are_findings_with_the_decoders_words():
    body = sse(CHUNK_OK).replace(b"data: [DONE]", b"note: hi\ndata: [DONE]")
    body = body.replace(b'"ok"', b'"o\xffk"')
    recorded = stream(body)
    findings = judge("stream_framing", recorded)
    assert [(f.title, f.chunk_index) for f in findings] == [(INVALID_UTF8, 0), (UNKNOWN_FIELD, 1)]
    assert [(f.title, f.actual, f.chunk_index) for f in findings] == [
        (p.title, p.detail, p.event_index) for p in recorded.framing
    ]
    assert judge("chunk_schema", recorded) == []  # the replaced byte is still a string


def test_a_stream_without_usage_is_left_to_the_usage_placement_checks():
    recorded = exchange("chat_stream_usage", body=sse(CHUNK_OK), headers=SSE)
    assert str(judge("usage_arithmetic", recorded)) == (
        "the stream carries no usage; see stream_usage_chunk"
    )
    [finding] = judge("stream_usage_chunk", recorded)
    assert (finding.title, finding.actual, finding.chunk_index) == (
        "a stream asked for include_usage carried no usage",
        None,
        0,
    )


def test_stream_checks_leave_an_error_status_to_success_status():
    recorded = stream(
        b'{"error": {"message": "overloaded"}}',
        status=503,
        headers={"content-type": "application/json"},
    )
    assert outcomes(recorded) == {
        "success_status": [("a valid request was answered with 503, not 200", "$", None)],
        "gzip_decoded": [],
        "stream_content_type": "n/a",
        "chunk_schema": "n/a",
        "stream_done_terminator": "n/a",
        "stream_framing": "n/a",
        "stream_event_separation": "n/a",
        "chunk_envelope_stable": "n/a",
        "chunk_created_stable": "n/a",
        "stream_first_delta_role": "n/a",
        "stream_finish_once": "n/a",
        "stream_delta_identity_once": "n/a",
        "tool_calls_not_empty": "n/a",
        "stream_usage_unrequested": "n/a",
    }
    assert str(judge("chunk_schema", recorded)) == (
        "the request was answered with status 503; see success_status"
    )


def test_a_json_answer_to_a_stream_request_says_where_to_look():
    recorded = stream(json.dumps(CHUNK_OK), headers={"content-type": "application/json"})
    assert str(judge("chunk_schema", recorded)) == (
        "the response is not an event stream (Content-Type 'application/json'); "
        "see stream_content_type"
    )


@pytest.mark.parametrize(
    ("headers", "title"),
    [
        ({"content-type": "text/plain"}, "Content-Type is not text/event-stream"),
        ({}, "the stream has no Content-Type"),
    ],
)
def test_a_stream_with_another_media_type_is_named(headers, title):
    recorded = stream(sse(CHUNK_OK), headers=headers)
    [finding] = judge("stream_content_type", recorded)
    assert (finding.title, finding.expected, finding.actual) == (
        title,
        "text/event-stream",
        headers.get("content-type", "(none)"),
    )


def test_strict_and_openai_profiles_judge_the_same_chunk_differently():
    chunk = {k: v for k, v in CHUNK_OK.items() if k not in ("system_fingerprint", "usage")}
    recorded = stream(sse(chunk))
    strict = judge("chunk_schema", recorded, profile="strict")
    assert [(f.title, f.chunk_index) for f in strict] == [
        ("required property 'system_fingerprint' is missing", 0),
        ("required property 'usage' is missing", 0),
    ]
    assert judge("chunk_schema", recorded, profile="openai") == []
