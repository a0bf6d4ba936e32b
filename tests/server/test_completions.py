"""The reference server's answers keep the contract: responses, streams, usage, limits."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from conformance.server import ServerConfig, create_app
from conformance.server._generator import VOCABULARY
from tests.server.helpers import (
    MODEL,
    assert_valid,
    chat,
    chat_body,
    stream_chunks,
    streamed_text,
    violations,
)


@pytest.mark.parametrize("profile", ["strict", "openai"])
def test_response_is_valid_and_its_usage_adds_up(profile):
    response = chat(chat_body("two words"), ServerConfig(profile=profile))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_valid("ChatCompletionResponse", body)
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["service_tier"] == "default"
    assert body["system_fingerprint"].startswith("fp_")
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["logprobs"] is None
    assert choice["message"]["role"] == "assistant"
    words = choice["message"]["content"].split()
    assert 3 <= len(words) <= 20
    assert set(words) <= set(VOCABULARY)
    assert body["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": len(words),
        "total_tokens": 2 + len(words),
    }


def test_prompt_tokens_count_the_words_of_every_message_and_text_part():
    messages = [
        {"role": "system", "content": "be   brief"},
        {"role": "user", "content": [
            {"type": "text", "text": "one two three"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
            {"type": "text", "text": "four"},
        ]},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "five\tsix\nseven"},
    ]  # fmt: skip
    body = chat({"model": MODEL, "messages": messages}).json()
    assert body["usage"]["prompt_tokens"] == 2 + 4 + 3


@pytest.mark.parametrize("profile", ["strict", "openai"])
def test_stream_chunks_are_valid_and_well_ordered(profile):
    response = chat(chat_body(stream=True), ServerConfig(profile=profile))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    chunks = stream_chunks(response)
    for c in chunks:
        assert_valid(
            "ChatCompletionChunk", c, ("strict", "openai") if profile == "strict" else ("openai",)
        )
    assert len({(c["id"], c["created"], c["model"], c["system_fingerprint"]) for c in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["usage"] is None for c in chunks)
    assert all(len(c["choices"]) == 1 for c in chunks)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0] == {"role": "assistant", "content": ""}
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finishes == [None] * (len(chunks) - 1) + ["stop"]
    assert "content" not in deltas[-1]
    # One token (word) per chunk between the opening and the closing chunk.
    tokens = [d["content"] for d in deltas[1:-1]]
    assert [t.strip() for t in tokens] == "".join(tokens).split()
    if profile == "strict":  # the document requires `role` on every delta
        assert all(d["role"] == "assistant" for d in deltas)
    else:  # as OpenAI sends them: the role on the first delta only, which strict forbids
        assert all("role" not in d for d in deltas[1:])
        assert violations("ChatCompletionChunk", chunks[1]) == [
            "$.choices[0].delta: 'role' is a required property"
        ]


def test_stream_carries_the_same_answer_as_the_response():
    body = chat_body("tell me a story", seed=7, n=2)
    whole = chat(body).json()
    chunks = stream_chunks(chat({**body, "stream": True}))
    for choice in whole["choices"]:
        assert streamed_text(chunks, choice["index"]) == choice["message"]["content"]
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == choice["index"]]
        assert mine[-1]["finish_reason"] == choice["finish_reason"]


def test_stream_usage_chunk_matches_the_response_usage():
    body = chat_body("count these words please", n=2, max_tokens=5)
    usage = chat(body).json()["usage"]
    chunks = stream_chunks(
        chat({**body, "stream": True, "stream_options": {"include_usage": True}})
    )
    for c in chunks:
        assert_valid("ChatCompletionChunk", c)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == usage
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all(c["usage"] is None for c in chunks[:-1])


def test_stream_without_include_usage_has_null_usage_everywhere():
    chunks = stream_chunks(chat(chat_body(stream=True, stream_options={"include_usage": False})))
    assert all(c["usage"] is None and c["choices"] for c in chunks)


def test_same_request_and_seed_give_the_same_answer_and_seeds_change_it():
    body = chat_body("hello", n=2, logprobs=True, top_logprobs=2)
    first = chat(body).json()["choices"]
    assert chat(body).json()["choices"] == first
    assert chat(body, ServerConfig(seed=1)).json()["choices"] != first
    assert chat({**body, "seed": 99}).json()["choices"] != first
    assert (
        chat({**body, "seed": 99}).json()["choices"] == chat({**body, "seed": 99}).json()["choices"]
    )


def _content(body: dict[str, Any]) -> tuple[str, str, int]:
    answer = chat(body).json()
    choice = answer["choices"][0]
    return (
        choice["message"]["content"],
        choice["finish_reason"],
        answer["usage"]["completion_tokens"],
    )


def test_max_tokens_cuts_the_answer_with_finish_reason_length():
    full, _, full_tokens = _content(chat_body())
    assert full_tokens >= 3
    cut, finish, tokens = _content(chat_body(max_tokens=2))
    assert (finish, tokens) == ("length", 2)
    assert full.startswith(cut)
    assert cut.split() == full.split()[:2]
    # The smaller of max_tokens and max_completion_tokens wins, whichever it is.
    assert _content(chat_body(max_tokens=2, max_completion_tokens=1))[1:] == ("length", 1)
    assert _content(chat_body(max_tokens=1, max_completion_tokens=2))[1:] == ("length", 1)
    # A limit the answer does not reach changes nothing.
    assert _content(chat_body(max_tokens=full_tokens)) == (full, "stop", full_tokens)


def test_max_tokens_zero_gives_an_empty_answer_in_both_forms():
    assert _content(chat_body(max_tokens=0)) == ("", "length", 0)
    chunks = stream_chunks(chat(chat_body(max_tokens=0, stream=True)))
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"role": "assistant"},
    ]
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_stop_ends_the_answer_before_the_stop_text():
    full, _, _ = _content(chat_body())
    word = full.split()[2]
    stop = " " + word
    expected = full[: full.find(stop)]
    content, finish, tokens = _content(chat_body(stop=[stop, "zzz-never"]))
    assert (content, finish, tokens) == (expected, "stop", len(expected.split()))
    assert stop not in content
    streamed = stream_chunks(chat(chat_body(stop=[stop], stream=True)))
    assert streamed_text(streamed) == expected


def test_stop_as_a_single_string_is_accepted_under_openai_only():
    full, _, _ = _content(chat_body())
    stop = " " + full.split()[1]
    answer = chat(chat_body(stop=stop), ServerConfig(profile="openai")).json()
    assert answer["choices"][0]["message"]["content"] == full[: full.find(stop)]
    response = chat(chat_body(stop=stop))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "stop"]


def test_n_gives_that_many_different_choices_and_usage_sums_them():
    body = chat(chat_body("three please", n=3)).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    contents = [c["message"]["content"] for c in body["choices"]]
    assert len(set(contents)) == 3
    completion = sum(len(text.split()) for text in contents)
    assert body["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": completion,
        "total_tokens": 2 + completion,
    }
    # The first choice does not depend on how many there are.
    assert contents[0] == _content(chat_body("three please"))[0]


def test_stream_with_n_interleaves_choices_and_finishes_each_once():
    chunks = stream_chunks(chat(chat_body(n=3, stream=True)))
    for c in chunks:
        assert_valid("ChatCompletionChunk", c)
    assert [c["choices"][0]["index"] for c in chunks[:3]] == [0, 1, 2]
    for index in range(3):
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == index]
        assert mine[0]["delta"] == {"role": "assistant", "content": ""}
        assert [m["finish_reason"] is not None for m in mine] == [False] * (len(mine) - 1) + [True]


def test_stream_is_sent_one_event_per_body_message():
    """The ASGI app sends each event as it is produced, not one big body at the end."""
    app = create_app()
    payload = json.dumps(chat_body(stream=True, n=2)).encode()
    sent: list[dict[str, Any]] = []
    received = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if received:
            return received.pop()
        await asyncio.sleep(3600)  # the client never disconnects during the test
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"",
        "query_string": b"", "root_path": "", "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234), "headers": [(b"content-type", b"application/json")],
    }  # fmt: skip
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    assert sent[0]["type"] == "http.response.start"
    bodies = [m["body"] for m in sent[1:] if m["body"]]
    whole = chat(chat_body(stream=True, n=2))  # the same answer, read by a client
    assert len(bodies) == len(stream_chunks(whole)) + 1  # each chunk, then [DONE]
    assert all(b.startswith(b"data: ") and b.endswith(b"\n\n") and b.count(b"\n\n") == 1
               for b in bodies)  # fmt: skip
    assert bodies[-1] == b"data: [DONE]\n\n"
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


def test_service_tier_follows_the_request_where_it_can():
    assert chat(chat_body(service_tier="flex")).json()["service_tier"] == "flex"
    assert chat(chat_body(service_tier="auto")).json()["service_tier"] == "default"


def test_models_are_listed():
    response = chat(None, ServerConfig(models=("a/one", "b/two")), method="GET", path="/models")
    assert response.status_code == 200
    assert response.json() == {
        "object": "list",
        "data": [
            {"id": "a/one", "object": "model", "created": 1735689600, "owned_by": "conformance"},
            {"id": "b/two", "object": "model", "created": 1735689600, "owned_by": "conformance"},
        ],
    }


def test_any_configured_model_is_served_and_echoed():
    config = ServerConfig(models=("a/one", "b/two"))
    body = chat({**chat_body(), "model": "b/two"}, config).json()
    assert body["model"] == "b/two"
    assert violations("ChatCompletionResponse", body) == []
