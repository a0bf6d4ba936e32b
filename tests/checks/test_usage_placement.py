"""Where usage comes in a stream, cached tokens, and streamed versus non-streamed usage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.checks._factory import (
    JSON,
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
from tests.checks.test_chunk_envelope import chunk

CHUNK_USAGE = "#/components/schemas/ChatCompletionChunk/properties/usage"


def usage(prompt=3, completion=2, **more):
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        **more,
    }


def content(text="ok"):
    return [chunk(0, ""), chunk(0, text), chunk(0, finish="stop")]


def usage_chunk(counts):
    return {**chunk(), "choices": [], "usage": counts}


def stream_of(probe_id, chunks):
    return exchange(probe_id, body=sse(*chunks), headers=SSE)


def plain(text="ok", counts=None, probe_id="chat"):
    body = completion(message_choice(text), usage=counts or usage())
    return exchange(probe_id, body=body, headers=JSON)


def test_one_usage_chunk_last_with_no_choices_passes():
    recorded = stream_of("chat_stream_usage", [*content(), usage_chunk(usage())])
    assert outcomes(recorded) == clean(recorded)


def place(findings):
    return [(f.title, f.json_path, f.chunk_index) for f in findings]


def test_usage_on_every_chunk_is_named_on_each_but_the_last():
    chunks = [{**c, "usage": usage()} for c in content()] + [usage_chunk(usage())]
    findings = judge("stream_usage_chunk", stream_of("chat_stream_usage", chunks))
    assert place(findings) == [
        ("usage on a chunk other than the last", "$.usage", i) for i in (0, 1, 2)
    ]


def test_usage_on_the_last_content_chunk_is_a_usage_chunk_with_choices():
    chunks = content()
    chunks[-1] = {**chunks[-1], "usage": usage()}
    findings = judge("stream_usage_chunk", stream_of("chat_stream_usage", chunks))
    assert place(findings) == [("the usage chunk carries choices", "$.choices", 2)]
    assert findings[0].expected == "[] (the usage chunk has no choices)"


def test_a_usage_chunk_followed_by_more_chunks_is_not_last():
    chunks = [chunk(0, ""), usage_chunk(usage()), chunk(0, "ok", finish="stop")]
    findings = judge("stream_usage_chunk", stream_of("chat_stream_usage", chunks))
    assert place(findings) == [("the usage chunk is not the last chunk", "$.usage", 1)]
    assert findings[0].actual == "usage in event 1, 1 chunk(s) before the last"


def test_no_usage_at_all_when_asked_is_named_on_the_last_chunk():
    findings = judge("stream_usage_chunk", stream_of("chat_stream_usage", content()))
    assert place(findings) == [("a stream asked for include_usage carried no usage", "$.usage", 2)]
    assert findings[0].schema_path == CHUNK_USAGE


def test_usage_without_include_usage_is_a_warning_per_chunk_carrying_it():
    recorded = stream_of("chat_stream", [*content(), usage_chunk(usage())])
    assert outcomes(recorded) == expect(
        recorded,
        stream_usage_unrequested=[
            ("usage sent though include_usage was not asked for", "$.usage", 3)
        ],
    )
    asked = {
        "chat_stream_usage": stream_of("chat_stream_usage", [*content(), usage_chunk(usage())])
    }
    unasked = stream_of("chat_stream", content())
    assert judge("stream_usage_unrequested", unasked, peers=asked) == []
    # an endpoint that streams no usage even when asked shows nothing by leaving it out
    never = {"chat_stream_usage": stream_of("chat_stream_usage", content())}
    result = judge("stream_usage_unrequested", unasked, peers=never)
    assert str(result) == "the endpoint streamed no usage even when asked (chat_stream_usage)"


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_cached_tokens_may_not_exceed_prompt_tokens(prompt, cached):
    counts = usage(prompt, 1, prompt_tokens_details={"cached_tokens": cached})
    findings = judge("usage_cached_tokens", plain(counts=counts))
    if cached <= prompt:
        assert findings == []
    else:
        assert [(f.title, f.json_path, f.expected, f.actual) for f in findings] == [
            (
                "usage.prompt_tokens_details.cached_tokens exceeds prompt_tokens",
                "$.usage.prompt_tokens_details.cached_tokens",
                f"at most prompt_tokens ({prompt})",
                cached,
            )
        ]


@pytest.mark.parametrize("details", [None, {}, {"cached_tokens": None}, {"cached_tokens": "9"}])
def test_no_cached_count_keeps_the_rule(details):
    assert judge("usage_cached_tokens", plain(counts=usage(prompt_tokens_details=details))) == []


def test_cached_tokens_in_a_stream_are_named_on_the_usage_chunk():
    counts = usage(2, 1, prompt_tokens_details={"cached_tokens": 3})
    recorded = stream_of("chat_stream_usage", [*content(), usage_chunk(counts)])
    assert place(judge("usage_cached_tokens", recorded)) == [
        (
            "usage.prompt_tokens_details.cached_tokens exceeds prompt_tokens",
            "$.usage.prompt_tokens_details.cached_tokens",
            3,
        )
    ]


def compare(stream_text, stream_counts, plain_text, plain_counts):
    streamed = stream_of("chat_stream_usage", [*content(stream_text), usage_chunk(stream_counts)])
    peers = {"chat": plain(plain_text, plain_counts)}
    found = judge("usage_stream_matches", streamed, peers=peers)
    return found if isinstance(found, list) else str(found)


def test_streamed_usage_equal_to_the_plain_one_passes():
    assert compare("ok", usage(3, 2), "ok", usage(3, 2)) == []


def test_the_prompt_always_costs_the_same_streamed_or_not():
    [finding] = compare("ok", usage(4, 2), "other words", usage(3, 7))
    assert (finding.title, finding.json_path, finding.expected, finding.actual) == (
        "streamed usage.prompt_tokens differs from the same request not streamed",
        "$.usage.prompt_tokens",
        "3 (probe 'chat', not streamed)",
        4,
    )
    assert finding.chunk_index == 3


def test_completion_tokens_are_compared_only_for_the_same_text():
    assert compare("ok", usage(3, 2), "okay then", usage(3, 5)) == []
    [finding] = compare("ok", usage(3, 2), "ok", usage(3, 5))
    assert (finding.json_path, finding.actual) == ("$.usage.completion_tokens", 2)


def test_without_the_plain_twin_or_its_usage_nothing_is_compared():
    streamed = stream_of("chat_stream_usage", [*content(), usage_chunk(usage())])
    assert str(judge("usage_stream_matches", streamed)) == (
        "probe 'chat' is needed for the comparison but not sent"
    )
    failed = exchange("chat", status=503, body=b"busy", headers={"content-type": "text/plain"})
    assert str(judge("usage_stream_matches", streamed, peers={"chat": failed})) == (
        "probe 'chat' is needed for the comparison but answered 503"
    )
    no_usage = stream_of("chat_stream_usage", content())
    assert str(judge("usage_stream_matches", no_usage, peers={"chat": plain()})) == (
        "one of the two answers carries no usage; see stream_usage_chunk"
    )
    assert str(judge("usage_stream_matches", plain())) == (
        "the non-streamed twin is judged from the streamed side"
    )
