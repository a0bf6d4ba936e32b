"""A body or stream is parsed once per run, however many checks read it; JSON too deep to
judge is refused the same way at any stack depth."""

from __future__ import annotations

import json

import pytest

from conformance.checks._helpers import chunks, parse_body
from conformance.wire._exchange import Exchange, RecordedRequest, TooDeep, parse_json
from conformance.wire._sse import ServerSentEvent


def exchange(body: bytes = b"", events: list[str] | None = None) -> Exchange:
    return Exchange(
        id="chat",
        request=RecordedRequest("POST", "http://127.0.0.1/v1/chat/completions", {}, {}),
        status=200,
        body=body,
        events=[ServerSentEvent(i, d) for i, d in enumerate(events or [])],
        streamed=events is not None,
    )


def test_the_body_is_parsed_once_and_shared_by_every_reader():
    seen = exchange(json.dumps({"usage": {"prompt_tokens": 1, "completion_tokens": 2}}).encode())
    first = seen.json()
    assert seen.json() is first
    assert parse_body(seen)[0] is first
    assert seen.usage() == (1, 2)


def test_a_stream_is_parsed_once_for_every_check():
    seen = exchange(events=['{"a": 1}', "not json", "[DONE]"])
    first = chunks(seen)
    again = chunks(seen)
    assert again == first
    assert again[0].payload is first[0].payload
    assert first[1].error is not None


def test_forgetting_makes_the_next_reader_parse_again():
    seen = exchange(b'{"a": [1]}')
    first = seen.json()
    seen.forget()
    assert seen.json() == first
    assert seen.json() is not first


@pytest.mark.parametrize("depth", [101, 1500, 100_000])
def test_json_deeper_than_100_levels_is_too_deep_not_a_recursion_error(depth):
    with pytest.raises(TooDeep) as caught:
        parse_json("[" * depth + "]" * depth)
    assert str(caught.value) == "JSON nested deeper than 100 levels"
    expected: list = []
    for _ in range(99):
        expected = [expected]
    assert parse_json("[" * 100 + "]" * 100) == expected  # 100 levels: still judged


def test_a_too_deep_body_or_event_is_named_and_not_judged():
    deep = "[" * 2000 + "]" * 2000
    assert exchange(deep.encode()).too_deep() == (
        "the body is JSON nested deeper than 100 levels; not judged"
    )
    assert exchange(events=['{"a": 1}', deep]).too_deep() == (
        "event 1 is JSON nested deeper than 100 levels; not judged"
    )
    assert exchange(b"not json").too_deep() is None
