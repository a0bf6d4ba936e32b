"""What a stream says (issue 19): each defect of server/_text_defects.py breaks its one
promise only when switched on; the reasoning field's other name; errors after a 200 (the
faults); and a request's own seed in the model-like mode."""

from __future__ import annotations

import json

import pytest

from conformance.server import ServerConfig
from tests.server.helpers import chat, chat_body, chats, stream_chunks

TESTED_HERE = {
    "stream-stop-leak", "split-multibyte-char", "logprobs-short", "chunks-after-error-event",
    "reasoning-in-content-too",
}  # fmt: skip
DICTATED = "Reply with exactly these words: alpha beta gamma delta epsilon"


def _on(*defects: str, **fields: object) -> ServerConfig:
    return ServerConfig(defects=frozenset(defects), **fields)  # type: ignore[arg-type]


def _content(chunks: list[dict[str, object]]) -> str:
    return "".join(
        c["delta"].get("content") or ""  # type: ignore[index, union-attr]
        for item in chunks
        for c in item["choices"]  # type: ignore[attr-defined]
    )


def test_stream_stop_leak_leaves_the_start_of_the_stop_text_in_streams_only():
    body = chat_body(DICTATED, stop=[" gamma"])
    assert chat(body, _on("stream-stop-leak")).json()["choices"][0]["message"]["content"] == (
        "alpha beta"
    )
    clean = stream_chunks(chat({**body, "stream": True}))
    leaky = stream_chunks(chat({**body, "stream": True}, _on("stream-stop-leak")))
    assert _content(clean) == "alpha beta"
    assert _content(leaky) == "alpha beta gamm"
    assert [c["finish_reason"] for i in leaky for c in i["choices"]][-1] == "stop"


def test_split_multibyte_char_cuts_a_long_character_between_two_events():
    body = chat_body("Reply with exactly these words: café 東京", stream=True)
    raw = chat(body, _on("split-multibyte-char")).content
    events = [e for e in raw.split(b"\n\n") if e]
    broken = []
    for n, event in enumerate(events):
        try:
            event.decode("utf-8")
        except UnicodeDecodeError:
            broken.append(n)
    assert len(broken) == 2
    assert broken[1] == broken[0] + 1
    assert events[broken[0]].endswith(b'\xe6\x9d"},"finish_reason":null,"logprobs":null}],'
                                      b'"usage":null}')  # fmt: skip
    assert b'"content":"\xb1\xe4\xba\xac"' in events[broken[1]]
    assert _content(stream_chunks(chat(body))) == "café 東京"  # the clean server: whole


def test_logprobs_short_sends_the_last_two_tokens_as_one_with_one_entry():
    body = chat_body(DICTATED, logprobs=True)
    clean = chat(body).json()["choices"][0]
    short = chat(body, _on("logprobs-short")).json()["choices"][0]
    assert short["message"]["content"] == clean["message"]["content"]
    assert [e["token"] for e in short["logprobs"]["content"]] == [
        "alpha",
        " beta",
        " gamma",
        " delta",
    ]
    chunks = stream_chunks(chat({**body, "stream": True}, _on("logprobs-short")))
    last = [c for i in chunks for c in i["choices"] if c["delta"].get("content")][-1]
    assert last["delta"]["content"] == " delta epsilon"
    assert [e["token"] for e in last["logprobs"]["content"]] == [" delta"]


def test_chunks_after_error_event_go_on_after_the_error():
    raw = chat(chat_body(DICTATED, stream=True), _on("chunks-after-error-event")).text
    data = [e.removeprefix("data: ") for e in raw.split("\n\n") if e]
    assert json.loads(data[2]) == {
        "error": {
            "message": "The server is overloaded. Please try again later.",
            "type": "server_error",
            "param": None,
            "code": "overloaded",
        }
    }
    assert len(data) > 4
    assert data[-1] == "[DONE]"


def test_reasoning_in_content_too_repeats_the_reasoning_at_the_start_of_content():
    message = chat(chat_body(reasoning_effort="low"), _on("reasoning-in-content-too")).json()[
        "choices"
    ][0]["message"]
    assert message["content"].startswith(message["reasoning_content"])


def test_the_reasoning_field_can_be_named_reasoning():
    config = ServerConfig(reasoning_field="reasoning")
    message = chat(chat_body(reasoning_effort="low"), config).json()["choices"][0]["message"]
    assert "reasoning_content" not in message
    assert message["reasoning"].startswith("Thinking:")
    chunks = stream_chunks(chat(chat_body(reasoning_effort="low", stream=True), config))
    deltas = [c["delta"] for i in chunks for c in i["choices"]]
    assert "".join(d.get("reasoning", "") for d in deltas) == message["reasoning"]
    assert not any("reasoning_content" in d for d in deltas)


def test_an_unknown_reasoning_field_name_is_refused_in_one_line():
    with pytest.raises(ValueError, match="reasoning_field") as err:
        ServerConfig(reasoning_field="thoughts")
    assert str(err.value) == (
        "reasoning_field 'thoughts' is unknown; use 'reasoning_content' or 'reasoning'."
    )


def test_the_error_faults_answer_200_then_an_error():
    body = chat_body(DICTATED, max_tokens=5)
    answer = chat(body, ServerConfig(faults=frozenset({"error-body-200"})))
    assert answer.status_code == 200
    assert answer.json()["error"]["code"] == "overloaded"
    streamed = chat({**body, "stream": True}, ServerConfig(faults=frozenset({"error-body-200"})))
    assert streamed.headers["content-type"].startswith("text/event-stream")  # streams: served
    cut = chat({**body, "stream": True}, ServerConfig(faults=frozenset({"error-event-mid-stream"})))
    data = [e.removeprefix("data: ") for e in cut.text.split("\n\n") if e]
    assert cut.status_code == 200
    assert len(data) == 4
    assert json.loads(data[2])["error"]["code"] == "overloaded"
    assert data[3] == "[DONE]"


def test_a_request_seed_gets_the_same_answer_from_the_model_like_server_cut_by_stop():
    config = ServerConfig(mode="model")
    body = chat_body("Write one sentence about the sea.", max_tokens=16, seed=7)
    first, again, unseeded = chats(config, [body, body, chat_body(max_tokens=16)])
    text = first.json()["choices"][0]["message"]["content"]
    assert again.json()["choices"][0]["message"]["content"] == text
    words = text.split(" ")
    stop = " " + words[1]
    streamed = chats(config, [{**body, "stop": [stop], "stream": True}])[0]
    assert _content(stream_chunks(streamed)) == text[: text.index(stop)]
    assert unseeded.status_code == 200
