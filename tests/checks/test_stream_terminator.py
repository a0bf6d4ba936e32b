"""The [DONE] terminator: missing, mistyped, never dispatched, or followed by more data."""

from __future__ import annotations

import pytest

from conformance.wire._sse import UNTERMINATED
from tests.checks._factory import CHUNK_OK, expect, judge, outcomes, sse, stream


@pytest.mark.parametrize(
    ("ending", "actual"),
    [
        (b"data: [done]\n\n", "data: [done]"),
        (b"data: DONE\n\n", "data: DONE"),
        (b"data:[DONE] \n\n", "data:[DONE] "),
        (b"data: [DONE] junk\n\n", "data: [DONE] junk"),
        (b"data:  [DONE]\n\n", "data:  [DONE]"),
    ],
)
def test_a_malformed_terminator_is_named_as_such(ending, actual):
    recorded = stream(sse(CHUNK_OK, done=False) + ending)
    assert outcomes(recorded) == expect(
        recorded, stream_done_terminator=[("malformed [DONE] terminator", "$", 1)]
    )
    [finding] = judge("stream_done_terminator", recorded)
    assert (finding.expected, finding.actual) == ("data: [DONE]", actual)


@pytest.mark.parametrize("ending", [b"data: [DONE]\n", b"data: [DONE]"])
def test_a_done_never_dispatched_is_named_and_so_is_the_framing(ending):
    recorded = stream(sse(CHUNK_OK, done=False) + ending)
    assert outcomes(recorded) == expect(
        recorded,
        stream_done_terminator=[
            ("[DONE] is not followed by a blank line, so it is never dispatched", "$", None)
        ],
        stream_framing=[(UNTERMINATED, "$", None)],
    )
    [finding] = judge("stream_done_terminator", recorded)
    assert finding.actual == "data: [DONE]\n"


def test_a_malformed_terminator_that_was_never_dispatched_is_still_named():
    recorded = stream(sse(CHUNK_OK, done=False) + b"data: [done]")
    [finding] = judge("stream_done_terminator", recorded)
    assert (finding.title, finding.actual, finding.chunk_index) == (
        "malformed [DONE] terminator",
        "data: [done]",
        None,
    )


def test_data_left_unterminated_after_done_is_data_after_done():
    recorded = stream(sse(CHUNK_OK) + b"data: {}")
    findings = judge("stream_done_terminator", recorded)
    assert [(f.title, f.actual, f.chunk_index) for f in findings] == [
        ("data after [DONE]", "{}", None)
    ]


def test_an_empty_stream_has_no_chunk_and_no_terminator():
    recorded = stream(b"")
    assert outcomes(recorded) == expect(
        recorded,
        chunk_schema=[("the stream carried no chunk", "$", None)],
        stream_done_terminator=[("the stream is not terminated by data: [DONE]", "$", None)],
        stream_finish_once="n/a",
    )
    [finding] = judge("stream_done_terminator", recorded)
    assert finding.actual == "no event at all"


def test_a_mistyped_done_before_the_real_one_is_named_once_and_is_not_a_chunk():
    opening = {**CHUNK_OK, "choices": [{**CHUNK_OK["choices"][0], "finish_reason": None}]}
    recorded = stream(sse(opening, "[done]", CHUNK_OK))
    assert outcomes(recorded) == expect(
        recorded, stream_done_terminator=[("malformed [DONE] terminator", "$", 1)]
    )
