"""Every defect switch takes effect in the model-like mode: for each entry of DEFECTS, a
witness (requests and what in their answers shows the defect) that the switched-on server
shows within a few tries and the clean model-like server never shows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest

from conformance.server import DEFECTS, ServerConfig, create_app
from tests.server.helpers import BASE_URL, chat_body
from tests.server.test_model_mode import JSON_SCHEMA, NAMED, SCHEMA, TOOLS

KEY = "sk-canary-5e6f7a8b"


@dataclass(frozen=True)
class Seen:
    """One answer as the client got it, its bytes undecoded."""

    status: int
    headers: httpx.Headers
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)

    def chunks(self) -> list[dict[str, Any]]:
        lines = self.raw.decode().splitlines()  # one data line per event, glued events too
        events = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
        return [json.loads(e) for e in events if e != "[DONE]"]

    def choice(self) -> dict[str, Any]:
        choice: dict[str, Any] = self.json()["choices"][0]
        return choice

    def message(self) -> dict[str, Any]:
        message: dict[str, Any] = self.choice()["message"]
        return message

    def calls(self) -> list[dict[str, Any]]:
        return self.message().get("tool_calls") or []

    def deltas(self) -> list[dict[str, Any]]:
        return [c["delta"] for item in self.chunks() for c in item["choices"]]


@dataclass(frozen=True)
class Witness:
    bodies: list[Any]  # sent in turn to one server; a body of bytes is sent as it is
    shows: Callable[[list[Seen]], bool]  # whether the answers show the defect
    tries: int = 3  # sequences sent (to one server) before giving up on seeing it
    headers: dict[str, str] = field(default_factory=dict)
    query: str = ""
    key: str | None = None  # the server's API key (requests never send one)
    profile: str = "strict"  # the server's profile (openai: tool calls in fragments)


def one(body: Any, shows: Callable[[Seen], bool], **kwargs: Any) -> Witness:
    return Witness([body], lambda seen: shows(seen[0]), **kwargs)


def _stream(**fields: Any) -> dict[str, Any]:
    return chat_body(stream=True, **fields)


def _invalid() -> dict[str, Any]:
    return chat_body(temperature=5)


def _tools(choice: Any, **fields: Any) -> dict[str, Any]:
    return chat_body("What is the weather in Paris?", tools=TOOLS, tool_choice=choice, **fields)


def _round_trip() -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    body = chat_body()
    body["messages"] += [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "noon"},
    ]
    return body


def _usage(seen: Seen) -> dict[str, int]:
    if seen.headers["content-type"].startswith("text/event-stream"):
        usage: dict[str, int] = seen.chunks()[-1]["usage"]
        return usage
    return dict(seen.json()["usage"])


def _off(usage: dict[str, int]) -> bool:
    return usage["total_tokens"] != usage["prompt_tokens"] + usage["completion_tokens"]


def _entries(seen: Seen) -> list[dict[str, Any]]:
    logprobs = seen.choice()["logprobs"]
    return list(logprobs["content"]) if logprobs else []


def _schema_valid(content: str) -> bool:
    return jsonschema.Draft202012Validator(SCHEMA).is_valid(json.loads(content))


def _json_object(content: str) -> bool:
    try:
        return isinstance(json.loads(content), dict)
    except ValueError:
        return False


LOGPROBS = chat_body(logprobs=True, top_logprobs=5)
REQUIRED = _tools("required")
PARALLEL_STREAM = _tools("required", parallel_tool_calls=True, stream=True)
NAMED_WEATHER = {"type": "function", "function": {"name": "get_weather"}}
INCLUDE_USAGE = {"include_usage": True}
STOPS = ["e", "\n"]
SAMPLED = 20  # tries for defects that show only on what the model happens to write

WITNESSES: dict[str, Witness] = {
    "no-done": one(_stream(), lambda s: b"data: [DONE]" not in s.raw),
    "data-after-done": one(_stream(), lambda s: not s.raw.endswith(b"data: [DONE]\n\n")),
    "bad-usage-total": one(chat_body(), lambda s: _off(_usage(s))),
    "missing-chunk-id": one(_stream(), lambda s: any("id" not in c for c in s.chunks())),
    "missing-service-tier": one(chat_body(), lambda s: "service_tier" not in s.json()),
    "wrong-object": one(chat_body(), lambda s: s.json()["object"] != "chat.completion"),
    "stream-json-content-type": one(
        _stream(), lambda s: s.headers["content-type"] == "application/json"
    ),
    "accept-any-key": one(chat_body(), lambda s: s.status == 200, key=KEY),
    "invalid-request-500": one(_invalid(), lambda s: s.status == 500),
    "invalid-request-200": one(_invalid(), lambda s: s.status == 200),
    "html-error-page": one(_invalid(), lambda s: s.headers["content-type"].startswith("text/html")),
    "n-stream-500": one(_stream(n=2), lambda s: s.status == 500),
    "negative-presence-penalty-rejected": one(
        chat_body(presence_penalty=-0.5), lambda s: s.status == 400
    ),
    "tool-choice-required-ignored": one(REQUIRED, lambda s: not s.calls()),
    "tool-choice-named-wrong": one(
        _tools(NAMED), lambda s: s.calls()[0]["function"]["name"] != "get_weather"
    ),
    "tool-choice-none-ignored": one(_tools("none"), lambda s: bool(s.calls())),
    "tool-call-no-id": one(REQUIRED, lambda s: "id" not in s.calls()[0]),
    "tool-arguments-object": one(
        REQUIRED, lambda s: not isinstance(s.calls()[0]["function"]["arguments"], str)
    ),
    "empty-arguments-string": one(
        _tools({"type": "function", "function": {"name": "get_time"}}),
        lambda s: s.calls()[0]["function"]["arguments"] == "",
    ),
    "tool-stream-no-index": one(
        {**REQUIRED, "stream": True},
        lambda s: any("index" not in t for d in s.deltas() for t in d.get("tool_calls") or []),
    ),
    # A random model calls either tool when streamed; with the defect, never the one the
    # toy would call non-streamed: one tool only, in every streamed answer.
    "tool-stream-other-tool": Witness(
        [{**REQUIRED, "stream": True}] * SAMPLED,
        lambda seen: (
            len(
                {
                    t["function"]["name"]
                    for s in seen
                    for d in s.deltas()
                    for t in d.get("tool_calls") or []
                }
            )
            == 1
        ),
        tries=1,
    ),
    "reject-empty-assistant-content": one(_round_trip(), lambda s: s.status == 400),
    "json-object-not-json": one(
        chat_body(response_format={"type": "json_object"}),
        lambda s: not _json_object(s.message()["content"]),
    ),
    "json-schema-off-schema": one(
        chat_body(response_format=JSON_SCHEMA), lambda s: not _schema_valid(s.message()["content"])
    ),
    "logprobs-missing": one(LOGPROBS, lambda s: s.choice()["logprobs"] is None),
    "logprobs-positive": one(LOGPROBS, lambda s: any(e["logprob"] > 0 for e in _entries(s))),
    "top-logprobs-unsorted": one(
        LOGPROBS,
        lambda s: any(
            [t["logprob"] for t in e["top_logprobs"]]
            != sorted((t["logprob"] for t in e["top_logprobs"]), reverse=True)
            for e in _entries(s)
        ),
    ),
    "logprobs-bad-bytes": one(
        LOGPROBS, lambda s: any(e["bytes"] != list(e["token"].encode()) for e in _entries(s))
    ),
    "logprobs-when-off": one(
        chat_body(logprobs=False), lambda s: s.choice()["logprobs"] is not None
    ),
    "reject-system-role": one(
        {**chat_body(), "messages": [{"role": "system", "content": "Be brief."}]},
        lambda s: s.status == 400,
    ),
    "reject-content-parts": one(
        chat_body([{"type": "text", "text": "hi"}]), lambda s: s.status == 400
    ),
    "reject-message-name": one(
        {**chat_body(), "messages": [{"role": "user", "content": "hi", "name": "ada"}]},
        lambda s: s.status == 400,
    ),
    "reject-unknown-fields": one(chat_body(frobnicate=1), lambda s: s.status == 400),
    "not-json-500": one(b'{"model": "conformance', lambda s: s.status == 500),
    "role-user-answer": one(chat_body(), lambda s: s.message()["role"] == "user"),
    "unknown-fields-500": one(chat_body(frobnicate=1), lambda s: s.status == 500),
    "unknown-model-served": one({**chat_body(), "model": "nope"}, lambda s: s.status == 200),
    "invalid-request-poisons": Witness(
        [_invalid()] * 3 + [chat_body()], lambda seen: seen[-1].status == 500
    ),
    "reasoning-effort-500": one(chat_body(reasoning_effort="low"), lambda s: s.status == 500),
    "reasoning-content-not-string": one(
        _stream(reasoning_effort="low"),
        lambda s: any(isinstance(d.get("reasoning_content"), list) for d in s.deltas()),
    ),
    "reasoning-in-content": one(
        chat_body(reasoning_effort="low"), lambda s: s.message()["content"].startswith("<think>")
    ),
    "glued-events": one(_stream(), lambda s: b"}\ndata: " in s.raw),
    "stream-by-default": one(
        chat_body(), lambda s: s.headers["content-type"].startswith("text/event-stream")
    ),
    "unstable-chunk-id": one(_stream(), lambda s: len({c["id"] for c in s.chunks()}) > 1),
    "wrong-chunk-object": one(
        _stream(), lambda s: any(c["object"] != "chat.completion.chunk" for c in s.chunks())
    ),
    "no-delta-role": one(_stream(), lambda s: not any("role" in d for d in s.deltas())),
    "double-finish": one(
        _stream(),
        lambda s: sum(c["finish_reason"] is not None for i in s.chunks() for c in i["choices"]) > 1,
    ),
    "usage-chunk-with-choices": one(
        _stream(stream_options=INCLUDE_USAGE),
        lambda s: any(c["usage"] is not None and c["choices"] for c in s.chunks()),
    ),
    "unrequested-usage": one(_stream(), lambda s: any(c["usage"] is not None for c in s.chunks())),
    "cached-over-prompt": one(
        chat_body(),
        lambda s: (
            s.json()["usage"].get("prompt_tokens_details", {}).get("cached_tokens", 0)
            > s.json()["usage"]["prompt_tokens"]
        ),
    ),
    "stream-usage-differs": Witness(
        [chat_body(), _stream(stream_options=INCLUDE_USAGE)],
        lambda seen: _usage(seen[0])["prompt_tokens"] != _usage(seen[1])["prompt_tokens"],
    ),
    "length-as-stop": one(
        chat_body(max_tokens=3),
        lambda s: (
            s.json()["usage"]["completion_tokens"] == 3 and s.choice()["finish_reason"] == "stop"
        ),
    ),
    "tool-calls-finish-stop": one(REQUIRED, lambda s: s.choice()["finish_reason"] == "stop"),
    "bad-finish-reason": one(chat_body(), lambda s: s.choice()["finish_reason"] == "eos"),
    "ignore-max-tokens": one(
        chat_body(max_tokens=2), lambda s: s.json()["usage"]["completion_tokens"] > 2, tries=SAMPLED
    ),
    "ignore-stop": one(
        chat_body(stop=STOPS),
        lambda s: any(x in s.message()["content"] for x in STOPS),
        tries=SAMPLED,
    ),
    "n-ignored": one(chat_body(n=3), lambda s: len(s.json()["choices"]) != 3),
    "reject-seed": one(chat_body(seed=1), lambda s: s.status == 400),
    "reject-top-p-zero": one(chat_body(top_p=0), lambda s: s.status == 400),
    "ai-project-id-500": one(chat_body(), lambda s: s.status == 500, query="?ai_project_id=p1"),
    "gzip-declared-plain": one(
        chat_body(),
        lambda s: s.headers.get("content-encoding") == "gzip" and s.raw.startswith(b"{"),
        headers={"accept-encoding": "gzip"},
    ),
    # The defects that show only sometimes.
    "tool-choice-named-as-auto": one(
        _tools(NAMED),
        lambda s: not s.calls() or s.calls()[0]["function"]["name"] != "get_weather",
        tries=SAMPLED,
    ),
    "stop-text-kept": one(
        chat_body(stop=STOPS),
        lambda s: any(s.message()["content"].endswith(x) for x in STOPS),
        tries=SAMPLED,
    ),
    "created-per-chunk": one(
        _stream(), lambda s: len({c["created"] for c in s.chunks()}) > 1, tries=SAMPLED
    ),
    "usage-total-sometimes-off": one(chat_body(), lambda s: _off(_usage(s)), tries=SAMPLED),
    "json-schema-sometimes-off": one(
        chat_body(response_format=JSON_SCHEMA),
        lambda s: not _schema_valid(s.message()["content"]),
        tries=SAMPLED,
    ),
    "max-tokens-off-by-one": one(
        chat_body(max_tokens=4), lambda s: s.json()["usage"]["completion_tokens"] > 4, tries=SAMPLED
    ),
    # What a stream says (issue 19; tests/server/test_text_defects.py for the toy).
    "stream-stop-leak": Witness(
        [_stream(stop=[" the"], max_tokens=40)],
        lambda seen: (
            seen[0].raw.count(b'"content":" the"') > 0
            or "".join(d.get("content") or "" for d in seen[0].deltas()).endswith(" th")
        ),
        tries=8,
    ),
    "split-multibyte-char": one(
        _stream(messages=[{"role": "user", "content": "東京 東京 東京 東京 東京"}], max_tokens=40),
        lambda s: _not_utf8_events(s.raw),
        tries=8,
    ),
    "logprobs-short": one(
        chat_body(logprobs=True, max_tokens=8),
        lambda s: (
            "".join(e["token"] for e in s.choice()["logprobs"]["content"]) != s.message()["content"]
        ),
        tries=5,
    ),
    "chunks-after-error-event": one(
        _stream(max_tokens=8),
        lambda s: (
            b'data: {"error"' in s.raw
            and s.raw.index(b'data: {"error"') < s.raw.rindex(b'"chat.completion.chunk"')
        ),
    ),
    "reasoning-in-content-too": one(
        chat_body(reasoning_effort="low"),
        lambda s: s.message()["content"].startswith(s.message()["reasoning_content"]),
    ),
    # Streamed tool calls and delta identity (issue 19).
    "tool-calls-one-index": one(
        PARALLEL_STREAM,
        lambda s: (
            len({t["id"] for t in _streamed_calls(s) if "id" in t}) > 1
            and {t["index"] for t in _streamed_calls(s)} == {0}
        ),
    ),
    "tool-call-ids-shared": one(
        PARALLEL_STREAM,
        lambda s: (
            len({t["index"] for t in _streamed_calls(s) if "id" in t}) > 1
            and len({t["id"] for t in _streamed_calls(s) if "id" in t}) == 1
        ),
    ),
    "tool-arguments-repeated": one(
        PARALLEL_STREAM,
        lambda s: any(
            len(t["function"]["arguments"]) > 4  # the model writes pieces of 1 to 4 characters
            for t in _streamed_calls(s)
            if "id" not in t
        ),
        profile="openai",
    ),
    "repeat-delta-identity": one(
        PARALLEL_STREAM,
        lambda s: (
            all("role" in d for d in s.deltas())
            and any("id" not in t for t in _streamed_calls(s)) is False
        ),
        profile="openai",
    ),
    "empty-tool-calls": one(chat_body(), lambda s: s.message().get("tool_calls") == []),
    # issue 19: lenient and particular servers (server/_lenient.py)
    "lenient-coercion": one(chat_body(max_tokens="8"), lambda s: s.status == 200),
    "tool-arguments-loose": one(
        _tools(NAMED_WEATHER),
        lambda s: "city" not in json.loads(s.calls()[0]["function"]["arguments"]),
    ),
    "reasoning-model": one(
        chat_body(max_tokens=8),
        lambda s: s.status == 400 and s.json()["error"]["param"] == "max_tokens",
    ),
    "tool-finish-sometimes-stop": one(
        REQUIRED, lambda s: s.choice()["finish_reason"] == "stop", tries=SAMPLED
    ),
}


def _streamed_calls(seen: Seen) -> list[dict[str, Any]]:
    return [t for d in seen.deltas() for t in d.get("tool_calls") or []]


def _shown(witness: Witness, defects: frozenset[str], seed: int) -> bool:
    config = ServerConfig(
        mode="model", seed=seed, defects=defects, api_key=witness.key, profile=witness.profile
    )
    app = create_app(config)

    async def send(client: httpx.AsyncClient, body: Any) -> Seen:
        url = "/chat/completions" + witness.query
        request = (
            client.build_request("POST", url, content=body, headers=witness.headers)
            if isinstance(body, bytes)
            else client.build_request("POST", url, json=body, headers=witness.headers)
        )
        response = await client.send(request, stream=True)
        raw = b"".join([piece async for piece in response.aiter_raw()])
        return Seen(response.status_code, response.headers, raw)

    async def go() -> bool:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            for _ in range(witness.tries):
                seen = [await send(client, body) for body in witness.bodies]
                if witness.shows(seen):
                    return True
        return False

    return asyncio.run(go())


def _not_utf8_events(raw: bytes) -> bool:
    """Whether some event of a stream is not UTF-8 on its own."""
    for event in raw.split(b"\n\n"):
        try:
            event.decode("utf-8")
        except UnicodeDecodeError:
            return True
    return False


def test_every_defect_has_a_witness():
    assert set(WITNESSES) == set(DEFECTS)


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_defect_takes_effect_in_model_mode(defect):
    witness = WITNESSES[defect]
    for seed in (1, 2):
        assert _shown(witness, frozenset({defect}), seed), f"{defect} never showed (seed {seed})"
        assert not _shown(witness, frozenset(), seed), f"the clean server showed {defect}"
