"""The event-stream decoder against the WHATWG "Interpreting an event stream" rules."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance.wire._sse import FramingProblem, ServerSentEvent, SSEDecoder

UNTERMINATED = "stream ended inside an event (no blank line after the last event)"


def decode(*pieces: bytes) -> tuple[list[ServerSentEvent], list[FramingProblem]]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.close())
    return events, decoder.problems


def one_byte_at_a_time(body: bytes) -> tuple[list[ServerSentEvent], list[FramingProblem]]:
    return decode(*(body[i : i + 1] for i in range(len(body))))


# -- the property: any encoding and any split give back the events ---------------------------

_line = st.text(st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]), max_size=12)
_ident = st.text(st.characters(exclude_characters="\r\n\0", exclude_categories=["Cs"]), max_size=8)
_event = st.fixed_dictionaries(
    {
        "data": st.lists(_line, min_size=1, max_size=4),
        "event": st.none() | _ident,
        "id": st.none() | _ident,
    }
)


@st.composite
def _streams(draw: st.DrawFn) -> tuple[bytes, list[ServerSentEvent]]:
    """An encoded stream with random line ends, comments and spacing, and its events."""
    specs = draw(st.lists(_event, max_size=6))
    lines: list[str] = []
    expected: list[ServerSentEvent] = []
    last_id = ""

    def field(name: str, value: str) -> str:
        # One space after the colon is optional, unless the value itself starts with a space.
        space = value.startswith(" ") or draw(st.booleans())
        return f"{name}: {value}" if space else f"{name}:{value}"

    for index, spec in enumerate(specs):
        if draw(st.booleans()):  # a comment-only block, which dispatches nothing
            lines += [":" + draw(_line), ""]
        block = [field("data", value) for value in spec["data"]]
        for name in ("event", "id"):
            if spec[name] is not None:
                block.insert(draw(st.integers(0, len(block))), field(name, spec[name]))
        for _ in range(draw(st.integers(0, 2))):
            block.insert(draw(st.integers(0, len(block))), ":" + draw(_line))
        if spec["id"] is not None:
            last_id = spec["id"]
        expected.append(
            ServerSentEvent(
                index=index,
                data="\n".join(spec["data"]),
                event=spec["event"] or "",
                id=last_id,
                raw="".join(line + "\n" for line in block),
            )
        )
        lines += [*block, ""]
    out: list[str] = []
    previous = ""
    for line in lines:
        # After a CR, an empty line ended by LF alone would read as one CRLF.
        ends = ["\r", "\r\n"] if previous == "\r" and line == "" else ["\n", "\r", "\r\n"]
        previous = draw(st.sampled_from(ends))
        out.append(line + previous)
    body = "".join(out).encode("utf-8")
    if draw(st.booleans()):
        body = b"\xef\xbb\xbf" + body
    return body, expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=_streams(), data=st.data())
def test_any_encoding_and_any_split_gives_the_original_events(stream, data):
    body, expected = stream
    cuts = sorted(data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]

    events, problems = decode(*pieces)

    assert events == expected
    assert problems == []


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=16).filter(lambda b: b"\r" not in b and b"\n" not in b))
def test_any_bytes_decode_like_utf8_with_replacement(payload):
    events, problems = one_byte_at_a_time(b"data: " + payload + b"\n\n")

    assert [e.data for e in events] == [payload.decode("utf-8", errors="replace")]
    assert {p.title for p in problems} <= {"invalid UTF-8"}
    assert bool(problems) == (not _valid(payload))


def _valid(payload: bytes) -> bool:
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- one example per rule ----------------------------------------------------------------------


def test_a_leading_bom_is_stripped_once_even_when_split():
    events, problems = decode(b"\xef", b"\xbb", b"\xbfdata: a\n\n\xef\xbb\xbfdata: b\n\n")

    assert events == [ServerSentEvent(index=0, data="a", raw="data: a\n")]
    # A second BOM is not stripped: it is part of the field name, so an unknown field.
    assert problems == [
        FramingProblem(
            title="unknown field",
            detail="field '\\ufeffdata' is not one of data, event, id, retry; "
            "the line was ignored: '\\ufeffdata: b'",
            offset=12,
            event_index=None,
        )
    ]


def test_a_cr_at_the_end_of_one_piece_and_lf_at_the_start_of_the_next_are_one_line_end():
    events, problems = decode(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n")

    assert events == [ServerSentEvent(index=0, data="a\nb", raw="data: a\ndata: b\n")]
    assert problems == []


def test_cr_alone_and_crlf_and_lf_all_end_lines():
    events, _ = decode(b"data: a\rdata: b\r\ndata: c\n\r\ndata: d\r\r")

    assert [e.data for e in events] == ["a\nb\nc", "d"]


def test_multi_line_data_is_joined_with_line_feeds_and_an_empty_data_line_counts():
    events, _ = decode(b"data: first\ndata:\ndata:  two spaces\n\n")

    assert events == [
        ServerSentEvent(
            index=0,
            data="first\n\n two spaces",
            raw="data: first\ndata:\ndata:  two spaces\n",
        )
    ]


def test_a_line_without_a_colon_is_a_field_with_an_empty_value():
    events, problems = decode(b"data\ndata\n\n")

    assert events == [ServerSentEvent(index=0, data="\n", raw="data\ndata\n")]
    assert problems == []


def test_the_last_event_id_persists_across_events_until_changed():
    events, _ = decode(b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n")

    assert [(e.data, e.id) for e in events] == [("a", "7"), ("b", "7"), ("c", "")]


def test_an_id_only_block_sets_the_id_but_dispatches_nothing():
    events, problems = decode(b"id: 9\n\ndata: a\n\n")

    assert events == [ServerSentEvent(index=0, data="a", id="9", raw="data: a\n")]
    assert problems == []


def test_an_id_containing_nul_is_ignored_and_recorded():
    events, problems = decode(b"id: 1\n\nid: 2\x003\ndata: a\n\n")

    assert [e.id for e in events] == ["1"]
    assert problems == [
        FramingProblem(
            title="id contains NUL",
            detail="the id field was ignored: 'id: 2\\x003'",
            offset=7,
            event_index=0,
        )
    ]


def test_retry_takes_ascii_digits_only():
    events, problems = decode(
        b"retry: 1500\ndata: a\n\nretry: 15s\ndata: b\n\nretry: \xd9\xa3\ndata: c\n\n"
    )

    assert [(e.data, e.retry) for e in events] == [("a", 1500), ("b", None), ("c", None)]
    assert [(p.title, p.event_index) for p in problems] == [
        ("retry is not a number", 1),
        ("retry is not a number", 2),
    ]
    assert problems[0].detail == (
        "retry must be ASCII digits only; the field was ignored: 'retry: 15s'"
    )


def test_event_type_applies_to_one_event_and_is_reset_by_a_blank_line():
    events, _ = decode(b"event: delta\ndata: a\n\nevent: lost\n\ndata: b\n\n")

    assert [(e.event, e.data) for e in events] == [("delta", "a"), ("", "b")]


def test_a_block_without_data_is_not_dispatched():
    events, problems = decode(b"event: ping\n: keep-alive\n\ndata: a\n\n")

    assert events == [ServerSentEvent(index=0, data="a", raw="data: a\n")]
    assert problems == []


def test_comments_are_ignored_but_kept_in_raw():
    events, _ = decode(b": hello\ndata: a\n:\n\n")

    assert events == [ServerSentEvent(index=0, data="a", raw=": hello\ndata: a\n:\n")]


def test_only_one_space_after_the_colon_is_removed():
    events, _ = decode(b"data:  x \n\ndata:y\n\n")

    assert [e.data for e in events] == [" x ", "y"]


def test_a_final_event_without_a_blank_line_is_not_dispatched_but_recorded():
    body = b"data: a\n\ndata: [DONE]\n"
    events, problems = one_byte_at_a_time(body)

    assert [e.data for e in events] == ["a"]
    assert problems == [
        FramingProblem(
            title=UNTERMINATED,
            detail="never dispatched: 'data: [DONE]\\n'",
            offset=len(body),
            event_index=None,
        )
    ]


def test_a_body_ending_mid_line_is_recorded_with_the_partial_line():
    events, problems = decode(b"data: a\n\n: note\ndata: [DO")

    assert [e.data for e in events] == ["a"]
    assert [(p.title, p.detail) for p in problems] == [
        (UNTERMINATED, "never dispatched: ': note\\ndata: [DO'")
    ]


def test_a_body_ending_with_blank_line_has_no_problems():
    _, problems = decode(b"data: a\n\n")

    assert problems == []


def test_invalid_utf8_becomes_the_replacement_character_and_a_problem():
    events, problems = decode(b"data: caf\xc3", b"\xa9 \xff\xc3(\n\n")

    assert [e.data for e in events] == ["caf\u00e9 \ufffd\ufffd("]
    assert problems == [
        FramingProblem(
            title="invalid UTF-8",
            detail="the bytes b'\\xff' are not UTF-8; read as U+FFFD",
            offset=12,
            event_index=0,
        ),
        FramingProblem(
            title="invalid UTF-8",
            detail="the bytes b'\\xc3' are not UTF-8; read as U+FFFD",
            offset=13,
            event_index=0,
        ),
    ]


def test_a_multi_byte_character_split_across_pieces_is_not_a_problem():
    body = "data: \u20ac \U0001f600\n\n".encode()
    events, problems = one_byte_at_a_time(body)

    assert [e.data for e in events] == ["\u20ac \U0001f600"]
    assert problems == []


def test_an_unknown_field_is_ignored_and_recorded_with_the_event_it_was_in():
    events, problems = decode(b"data: a\n\nfoo: bar\ndata: b\n\n")

    assert [e.data for e in events] == ["a", "b"]
    assert problems == [
        FramingProblem(
            title="unknown field",
            detail="field 'foo' is not one of data, event, id, retry; "
            "the line was ignored: 'foo: bar'",
            offset=9,
            event_index=1,
        )
    ]


def test_repeated_problems_are_capped_and_counted():
    events, problems = decode(b"x: 1\n" * 25 + b"data: a\n\n")

    assert len(events) == 1
    assert len(problems) == 21
    assert problems[-1] == FramingProblem(
        title="unknown field",
        detail="5 more like this were not listed (only the first 20 are kept)",
        offset=25 * 5 + 9,
        event_index=None,
    )


def test_bytes_read_counts_everything_fed():
    decoder = SSEDecoder()
    decoder.feed(b"data: a\r")
    decoder.feed(b"\n\r\n")

    assert decoder.bytes_read == 11


def test_close_is_idempotent_and_feed_after_close_is_refused():
    decoder = SSEDecoder()
    decoder.feed(b"data: a")
    decoder.close()
    decoder.close()

    assert len(decoder.problems) == 1
    with pytest.raises(
        ValueError, match=r"^SSEDecoder\.feed\(\) was called after close\(\); use a new decoder$"
    ):
        decoder.feed(b"\n\n")


def test_ten_thousand_events_decode_well_under_a_second():
    body = b"".join(
        b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"tok %d"}}]}\n\n' % i
        for i in range(10_000)
    )
    decoder = SSEDecoder()
    started = time.perf_counter()
    count = sum(len(decoder.feed(body[i : i + 100])) for i in range(0, len(body), 100))
    decoder.close()
    elapsed = time.perf_counter() - started

    assert count == 10_000
    assert elapsed < 0.5
