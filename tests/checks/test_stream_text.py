"""What a stream says (issue 19): a streamed stop text, long characters split across events,
logprobs that spell the content, reasoning under either name, and errors after a 200. A
valid answer gives no finding; each mutation exactly its finding, at its path."""

from __future__ import annotations

import json

import pytest

from conformance.checks import NotApplicable, NotProvoked
from conformance.checks._probes_stream import stop_text
from conformance.engine._faults import classify, inconclusive
from tests.checks._factory import (
    SSE,
    completion,
    exchange,
    judge,
    message_choice,
    sse,
)

FREE = "The sea is calm today."
STOP = " sea is"  # the second and third words of FREE
CONTENT = "$.choices[0].delta.content"


def chunk(delta, *, index=0, finish=None, logprobs=None):
    return {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": index, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
        ],
    }


def streamed(probe_id, *pieces, finish="stop"):
    """A stream of ``pieces`` of content (one chunk each) for choice 0, then its finish."""
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"role": "assistant", "content": p}) for p in pieces]
    chunks.append(chunk({"role": "assistant"}, finish=finish))
    return exchange(probe_id, body=sse(*chunks), headers=SSE)


def stop_findings(*pieces, finish="stop"):
    twin = exchange("stop_seeded", body=completion(message_choice(FREE, finish="length")))
    recorded = streamed("stop_stream", *pieces, finish=finish)
    recorded.request.body["stop"] = [STOP]
    result = judge("stream_stop_honoured", recorded, peers={"stop_seeded": twin})
    if isinstance(result, NotApplicable):
        return result
    return [(f.title, f.json_path, f.chunk_index, f.failure) for f in result]


def test_the_stop_text_is_two_words_of_the_answer_without_stop():
    assert stop_text(FREE) == STOP
    assert stop_text("Two words.") == " words."
    assert stop_text("One.") is None


def test_a_stream_that_ends_before_its_stop_text_passes():
    assert stop_findings("The") == []


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (("The", " se"), ("the stream sends the start of its stop text", 2,
                          "start of the stop text streamed")),
        (("The", " sea", " is"), ("the stream sends its stop text", 2, "stop text streamed")),
        (("The", " sea is calm"), ("the stream sends its stop text", 2, "stop text streamed")),
    ],
)  # fmt: skip
def test_a_stream_that_sends_its_stop_text_or_its_start_fails(pieces, expected):
    title, chunk_index, kind = expected
    assert stop_findings(*pieces) == [(title, CONTENT, chunk_index, kind)]


def test_a_stream_stopped_by_its_stop_text_finishes_with_stop():
    assert stop_findings("The", finish="length") == [
        (
            "a stream cut by its stop text does not finish with stop",
            "$.choices[0].finish_reason",
            2,
            "stopped stream not finished with stop",
        )
    ]


def test_a_stream_that_wrote_something_else_did_not_provoke_the_stop():
    result = stop_findings("A", " wave")
    assert isinstance(result, NotProvoked)
    assert str(result) == (
        "the stream did not write the answer without stop up to ' sea is': 'A wave' for 'The'"
    )


def raw_stream(*contents: bytes) -> bytes:
    """An event stream whose chunks carry ``contents`` as raw bytes (maybe not UTF-8)."""
    events = []
    for content in contents:
        template = json.dumps(chunk({"role": "assistant", "content": "@@"}))
        events.append(b"data: " + template.encode().replace(b"@@", content) + b"\n\n")
    return b"".join(events) + b"data: [DONE]\n\n"


def intact(body: bytes):
    result = judge("stream_text_intact", exchange("unicode_stream", body=body, headers=SSE))
    if isinstance(result, NotApplicable):
        return result
    return [(f.title, f.json_path, f.chunk_index) for f in result]


def test_long_characters_whole_in_each_event_pass():
    assert intact(raw_stream("café 東京".encode(), " 🌊 ☕".encode())) == []


def test_a_character_split_across_two_events_is_its_finding():
    wave = "🌊".encode()
    assert intact(raw_stream(b"sea " + wave[:2], wave[2:] + b" ok")) == [
        ("a character is split across two events", CONTENT, 0)
    ]


def test_other_invalid_bytes_are_named_as_such():
    assert intact(raw_stream(b"caf\xff")) == [("an event is not valid UTF-8", "$", 0)]


def test_replacement_characters_and_lone_surrogates_in_the_text_are_findings():
    assert intact(raw_stream("caf\ufffd".encode())) == [
        ("the streamed text holds U+FFFD", CONTENT, 0)
    ]
    assert intact(raw_stream(b"sea \\ud83c")) == [
        ("the streamed text holds a lone surrogate", CONTENT, 0)
    ]


def test_an_ascii_answer_does_not_provoke_the_check():
    result = intact(raw_stream(b"ok"))
    assert isinstance(result, NotProvoked)
    assert str(result) == "the answer holds no character beyond ASCII: 'ok'"


def entry(token):
    return {"token": token, "logprob": -0.5, "bytes": list(token.encode()), "top_logprobs": []}


def spelled(recorded):
    result = judge("logprobs_spell_content", recorded)
    if isinstance(result, NotApplicable):
        return result
    return [(f.title, f.json_path, f.chunk_index) for f in result]


SPELL = "the logprobs tokens do not spell the content"


def test_logprobs_that_spell_the_content_pass_streamed_and_not():
    body = completion(
        message_choice("ok café", logprobs={"content": [entry("ok"), entry(" café")]})
    )
    assert spelled(exchange("logprobs_top", body=body)) == []
    chunks = [
        chunk({"content": t}, index=i, logprobs={"content": [entry(t)]})
        for t in ("ok", " café")
        for i in (0, 1)
    ]
    assert spelled(exchange("logprobs_n_stream", body=sse(*chunks), headers=SSE)) == []


def test_a_token_part_of_a_character_spells_it_by_its_bytes():
    parts = [
        {"token": "\\xe6\\x9d", "logprob": -1.0, "bytes": [0xE6, 0x9D], "top_logprobs": []},
        {"token": "\\xb1", "logprob": -1.0, "bytes": [0xB1], "top_logprobs": []},
    ]
    body = completion(message_choice("東", logprobs={"content": parts}))
    assert spelled(exchange("logprobs_top", body=body)) == []


def test_a_missing_last_entry_is_its_finding_for_each_choice():
    body = completion(message_choice("ok café", logprobs={"content": [entry("ok")]}))
    assert spelled(exchange("logprobs_top", body=body)) == [
        (SPELL, "$.choices[0].logprobs.content", None)
    ]
    chunks = [
        chunk({"content": "ok"}, index=i, logprobs={"content": [entry("ok")]}) for i in (0, 1)
    ]
    chunks.append(chunk({"content": " café"}, index=1, logprobs={"content": []}))
    assert spelled(exchange("logprobs_n_stream", body=sse(*chunks), headers=SSE)) == [
        (SPELL, "$.choices[0].logprobs.content", 2)
    ]


def test_a_choice_of_n_without_any_logprobs_is_its_finding():
    # logprobs collected for the first choice only: the second's text has no entry at all
    chunks = [chunk({"content": "ok"}, index=0, logprobs={"content": [entry("ok")]})]
    chunks.append(chunk({"content": "sea"}, index=1, logprobs=None))
    assert spelled(exchange("logprobs_n_stream", body=sse(*chunks), headers=SSE)) == [
        (SPELL, "$.choices[0].logprobs.content", 1)
    ]


def test_no_logprobs_at_all_does_not_provoke_the_check():
    result = spelled(exchange("logprobs_top", body=completion(message_choice("ok"))))
    assert isinstance(result, NotProvoked)


def reasoning_stream(*deltas):
    chunks = [chunk({"role": "assistant", **d}) for d in deltas]
    chunks.append(chunk({"role": "assistant"}, finish="stop"))
    return exchange("reasoning_stream", body=sse(*chunks), headers=SSE)


def titles(check_id, recorded):
    result = judge(check_id, recorded)
    return result if isinstance(result, NotApplicable) else [(f.title, f.json_path) for f in result]


def test_reasoning_under_its_other_name_is_read_and_judged_as_a_string():
    good = reasoning_stream({"reasoning": "Hmm, "}, {"reasoning": "yes"}, {"content": "ok"})
    assert titles("reasoning_content_deltas", good) == []
    assert titles("reasoning_not_in_content", good) == []
    bad = reasoning_stream({"reasoning": {"text": "Hmm"}}, {"content": "ok"})
    assert titles("reasoning_content_deltas", bad) == [
        ("matches none of the allowed shapes (string or null)", "$.choices[0].delta.reasoning")
    ]


def test_reasoning_repeated_at_the_start_of_content_is_a_leak_streamed_or_not():
    twice = reasoning_stream({"reasoning": "Hmm, yes"}, {"content": "Hmm, yes"}, {"content": " ok"})
    assert titles("reasoning_not_in_content", twice) == [
        ("the reasoning is repeated in content", CONTENT)
    ]
    body = completion(message_choice("Thinking: yes. ok", reasoning="Thinking: yes."))
    assert titles("reasoning_not_in_content", exchange("reasoning_effort", body=body)) == [
        ("the reasoning is repeated in content", "$.choices[0].message.content")
    ]
    short = completion(message_choice("ok", reasoning="o"))  # too short to tell
    assert titles("reasoning_not_in_content", exchange("reasoning_effort", body=short)) == []


ERROR = {"error": {"message": "Overloaded", "type": "server_error", "code": None}}


def test_an_error_event_then_done_is_the_right_end_of_a_stream_and_a_fault():
    recorded = exchange("chat_stream", body=sse(chunk({"content": "o"}), ERROR), headers=SSE)
    assert titles("stream_done_terminator", recorded) == []
    assert inconclusive(recorded) == (
        "answered 200, then an error in event 1 of its stream: 'Overloaded'; "
        "nothing can be concluded"
    )
    assert inconclusive(recorded, judges_error_events=True) is None
    fault = classify(recorded)
    assert fault is not None
    assert (fault.kind, fault.recovered) == ("error-event", False)


def test_chunks_after_an_error_event_are_its_finding():
    body = sse(chunk({"content": "o"}), ERROR, chunk({"content": "k"}), chunk({}, finish="stop"))
    recorded = exchange("chat_stream", body=body, headers=SSE)
    [finding] = judge("stream_done_terminator", recorded)
    assert (finding.title, finding.json_path, finding.chunk_index) == (
        "the stream goes on after an error event",
        "$",
        2,
    )
    assert finding.expected == "only data: [DONE] after the error 'Overloaded'"


def test_a_200_whose_body_is_an_error_is_a_fault_not_a_schema_violation():
    recorded = exchange("chat", body=ERROR)
    assert inconclusive(recorded) == (
        "answered 200, then an error as its body: 'Overloaded'; nothing can be concluded"
    )
    fault = classify(recorded)
    assert fault is not None
    assert fault.kind == "error-body"
    assert inconclusive(exchange("chat", status=503, body=ERROR)) is not None  # as before
    assert inconclusive(exchange("chat", body=completion(message_choice("ok")))) is None
