"""The stream, envelope, usage, finish_reason and sampling defects: each breaks its one
promise, and the same request without it keeps the promise."""

from __future__ import annotations

import json

from conformance.server import ServerConfig
from tests.server.helpers import chat, chat_body, stream_chunks, streamed_text

TESTED_HERE = {
    "glued-events", "stream-by-default", "unstable-chunk-id", "wrong-chunk-object",
    "no-delta-role", "double-finish", "usage-chunk-with-choices", "unrequested-usage",
    "cached-over-prompt", "stream-usage-differs", "length-as-stop", "tool-calls-finish-stop",
    "bad-finish-reason", "ignore-max-tokens", "ignore-stop", "n-ignored", "reject-seed",
    "reject-top-p-zero",
}  # fmt: skip
USAGE = {"include_usage": True}
LONG = "Count from 1 to 50."  # the toy model answers at least three words
TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def _on(*defects):
    return ServerConfig(defects=frozenset(defects))


def test_glued_events_send_every_chunk_in_one_event_then_done():
    body = chat(chat_body(stream=True), _on("glued-events")).text
    blocks = body.split("\n\n")
    assert blocks[-2:] == ["data: [DONE]", ""]
    assert len(blocks) == 3  # one event of chunks, [DONE], and the end
    glued = [json.loads(line.removeprefix("data: ")) for line in blocks[0].split("\n")]
    clean = stream_chunks(chat(chat_body(stream=True)))
    assert len(glued) == len(clean) > 2
    assert [c["choices"] for c in glued] == [c["choices"] for c in clean]


def test_stream_by_default_streams_a_request_without_stream_but_not_stream_false():
    config = _on("stream-by-default")
    response = chat(chat_body(), config)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert stream_chunks(response)[0]["object"] == "chat.completion.chunk"
    assert chat(chat_body(stream=False), config).json()["object"] == "chat.completion"
    assert chat(chat_body()).headers["content-type"] == "application/json"


def test_unstable_chunk_id_gives_every_chunk_its_own_id():
    chunks = stream_chunks(chat(chat_body(stream=True), _on("unstable-chunk-id")))
    assert len({c["id"] for c in chunks}) == len(chunks) > 1
    assert len({c["id"] for c in stream_chunks(chat(chat_body(stream=True)))}) == 1


def test_wrong_chunk_object_names_chunks_completions():
    chunks = stream_chunks(chat(chat_body(stream=True), _on("wrong-chunk-object")))
    assert {c["object"] for c in chunks} == {"chat.completion"}


def test_no_delta_role_leaves_role_out_of_every_delta():
    chunks = stream_chunks(chat(chat_body(stream=True), _on("no-delta-role")))
    assert all("role" not in ch["delta"] for c in chunks for ch in c["choices"])
    first = stream_chunks(chat(chat_body(stream=True)))[0]
    assert first["choices"][0]["delta"]["role"] == "assistant"


def test_double_finish_repeats_each_finish_reason_once_in_a_chunk_of_its_own():
    def finishes(config=None):
        chunks = stream_chunks(chat(chat_body(stream=True, n=2), config))
        return [(ch["index"], ch["finish_reason"]) for c in chunks for ch in c["choices"]]

    once = [f for f in finishes() if f[1] is not None]
    assert sorted(i for i, _ in once) == [0, 1]
    twice = [f for f in finishes(_on("double-finish")) if f[1] is not None]
    assert sorted(twice) == sorted(once * 2)


def test_usage_chunk_with_choices_puts_usage_on_the_last_content_chunk():
    body = chat_body(stream=True, stream_options=USAGE)
    chunks = stream_chunks(chat(body, _on("usage-chunk-with-choices")))
    assert [c["usage"] is not None for c in chunks] == [False] * (len(chunks) - 1) + [True]
    clean = stream_chunks(chat(body))
    assert clean[-1]["choices"] == []
    # the usage chunk's usage, moved onto the chunk that finishes the answer
    assert chunks[-1]["choices"] == clean[-2]["choices"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"] == clean[-1]["usage"]


def test_unrequested_usage_sends_a_usage_chunk_without_include_usage():
    chunks = stream_chunks(chat(chat_body(stream=True), _on("unrequested-usage")))
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == chat(chat_body()).json()["usage"]  # as the answer not streamed
    assert all(c["usage"] is None for c in stream_chunks(chat(chat_body(stream=True))))


def test_cached_over_prompt_reports_more_cached_tokens_than_prompt_tokens():
    config = _on("cached-over-prompt")
    usage = chat(chat_body(), config).json()["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": usage["prompt_tokens"] + 5}
    streamed = stream_chunks(chat(chat_body(stream=True, stream_options=USAGE), config))
    details = streamed[-1]["usage"]["prompt_tokens_details"]
    assert details == {"cached_tokens": streamed[-1]["usage"]["prompt_tokens"] + 5}
    assert "prompt_tokens_details" not in chat(chat_body()).json()["usage"]


def test_stream_usage_differs_counts_one_more_prompt_token_streamed_only():
    config = _on("stream-usage-differs")
    plain = chat(chat_body(), config).json()["usage"]
    streamed = stream_chunks(chat(chat_body(stream=True, stream_options=USAGE), config))
    assert streamed[-1]["usage"] == {
        **plain,
        "prompt_tokens": plain["prompt_tokens"] + 1,
        "total_tokens": plain["total_tokens"] + 1,
    }


def test_length_as_stop_reports_stop_for_a_cut_answer():
    body = chat_body(LONG, max_tokens=2)
    assert chat(body, _on("length-as-stop")).json()["choices"][0]["finish_reason"] == "stop"
    assert chat(body).json()["choices"][0]["finish_reason"] == "length"


def test_tool_calls_finish_stop_reports_stop_for_a_tool_call():
    body = chat_body("Call get_time.", tools=[TOOL], tool_choice="required")
    choice = chat(body, _on("tool-calls-finish-stop")).json()["choices"][0]
    assert (len(choice["message"]["tool_calls"]), choice["finish_reason"]) == (1, "stop")
    assert chat(body).json()["choices"][0]["finish_reason"] == "tool_calls"


def test_bad_finish_reason_says_eos_where_it_would_say_stop():
    body = chat_body(stop=[" "])
    assert chat(body, _on("bad-finish-reason")).json()["choices"][0]["finish_reason"] == "eos"
    assert chat(body).json()["choices"][0]["finish_reason"] == "stop"
    cut = chat_body(LONG, max_tokens=2)
    assert chat(cut, _on("bad-finish-reason")).json()["choices"][0]["finish_reason"] == "length"


def test_ignore_max_tokens_answers_past_both_caps():
    config = _on("ignore-max-tokens")
    for cap in ({"max_tokens": 2}, {"max_completion_tokens": 2}):
        body = chat_body(LONG, **cap)
        assert chat(body, config).json()["usage"]["completion_tokens"] > 2
        assert chat(body).json()["usage"]["completion_tokens"] == 2


def test_ignore_stop_answers_past_the_stop_sequence():
    body = chat_body("Reply with exactly these words: one two three", stop=["two"])
    assert chat(body, _on("ignore-stop")).json()["choices"][0]["message"]["content"] == (
        "one two three"
    )
    assert chat(body).json()["choices"][0]["message"]["content"] == "one"


def test_n_ignored_answers_one_choice_streamed_and_not():
    config = _on("n-ignored")
    assert len(chat(chat_body(n=2), config).json()["choices"]) == 1
    chunks = stream_chunks(chat(chat_body(n=2, stream=True), config))
    assert {ch["index"] for c in chunks for ch in c["choices"]} == {0}
    assert streamed_text(chunks)
    assert len(chat(chat_body(n=2)).json()["choices"]) == 2


def test_reject_seed_refuses_a_request_with_seed():
    response = chat(chat_body(seed=7), _on("reject-seed"))
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "Unrecognized request argument supplied: seed",
        "type": "invalid_request_error",
        "param": "seed",
        "code": None,
    }
    assert chat(chat_body(seed=7)).status_code == 200


def test_reject_top_p_zero_refuses_only_zero():
    config = _on("reject-top-p-zero")
    response = chat(chat_body(top_p=0), config)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "top_p must be in (0, 1], got 0."
    assert chat(chat_body(top_p=0.5), config).status_code == 200
    assert chat(chat_body(top_p=0)).status_code == 200


def test_the_toy_model_says_dictated_words_so_stop_can_be_seen_to_cut():
    body = chat_body("Reply with exactly these words: one two three")
    choice = chat(body).json()["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ("one two three", "stop")
    streamed = stream_chunks(chat({**body, "stop": ["###", "two"], "stream": True}))
    assert streamed_text(streamed) == "one"
