"""A body or stream is parsed once per run, however many checks read it; JSON too deep to
judge is refused the same way at any stack depth."""

from __future__ import annotations

import json

import pytest

from conformance.checks._helpers import chunks, parse_body
from conformance.wire._exchange import (
    EVIDENCE_BODY_LIMIT,
    Exchange,
    NotUtf8,
    RecordedRequest,
    TooDeep,
    TooManyMembers,
    parse_json,
)
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


def test_more_than_100000_members_are_not_judged_and_the_body_is_shed_to_its_evidence():
    many = json.dumps({f"k{i}": i for i in range(100_001)}).encode()
    with pytest.raises(TooManyMembers):
        parse_json(many)
    # spread over nested objects, counted in all; colons inside strings do not count
    assert parse_json(json.dumps({"s": ":" * 200_000, "a": [{"b": 1}] * 50_000}))["a"][0]
    with pytest.raises(TooManyMembers):
        parse_json(json.dumps([{"a": 1, "b": 2}] * 50_001))
    seen = exchange(many)
    assert seen.too_deep() == "the body is JSON with more than 100000 object members; not judged"
    seen.forget()
    seen.shed()
    assert (len(seen.body), seen.body_truncated) == (EVIDENCE_BODY_LIMIT, True)
    assert seen.too_deep() is not None  # remembered: not parsed again from the cut body


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE"),
     ("utf-32", "UTF-32"), ("utf-32-le", "UTF-32LE"), ("utf-32-be", "UTF-32BE")],
)  # fmt: skip
def test_json_in_another_encoding_than_utf8_is_never_decoded(encoding, name):
    with pytest.raises(NotUtf8) as caught:
        parse_json('{"a": "b"}'.encode(encoding))
    assert str(caught.value) == (
        f"the body is {name}, not UTF-8: JSON over HTTP must be UTF-8 (RFC 8259, section "
        "8.1); not decoded"
    )
    assert parse_json(b'\xef\xbb\xbf{"a": "b"}') == {"a": "b"}  # a UTF-8 BOM may be ignored
