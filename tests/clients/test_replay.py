"""The client replay (conformance/clients) on hand-built answers: what openai-python and
langchain-openai really make of bytes that differ in one way, compared with the suite's own
reading, and how a break is linked to the findings that name it.

Every expectation was measured by running the pinned clients (openai 3.63.0,
langchain-openai 1.8.1), never assumed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conformance.checks._model import Finding
from conformance.clients import replay
from conformance.clients._compare import Difference, compare
from conformance.clients._impact import (
    break_finding,
    impact,
    readiness,
    readiness_line,
    unnamed,
)
from conformance.clients._reading import Reading, suite_reading
from conformance.clients._replay import Replay
from conformance.wire._exchange import Exchange, RecordedRequest
from conformance.wire._sse import SSEDecoder
from tests.clients._build import chunk

PYTHON = ("openai-python", "langchain-openai")
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


def streamed(*chunks: dict[str, Any], name: str = "s", tools: bool = False) -> Exchange:
    body = ("".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n").encode()
    decoder = SSEDecoder()
    request: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    request |= {"stream": True, **({"tools": TOOLS} if tools else {})}
    return Exchange(
        id=name,
        request=RecordedRequest("POST", "http://127.0.0.1/v1/chat/completions", {}, request),
        status=200,
        headers={"content-type": "text/event-stream", "content-length": str(len(body))},
        body=body,
        events=decoder.feed(body) + decoder.close(),
        streamed=True,
    )


def plain(message: dict[str, Any], name: str = "p", **extra: Any) -> Exchange:
    payload = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        **extra,
    }
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    return Exchange(
        id=name,
        request=RecordedRequest("POST", "http://127.0.0.1/v1/chat/completions", {}, request),
        status=200,
        headers={"content-type": "application/json"},
        body=json.dumps(payload).encode(),
    )


HELLO = (
    chunk({"role": "assistant", "content": "He"}),
    chunk({"content": "llo"}),
    chunk({}, "stop"),
)
ROLE_REPEATED = (
    chunk({"role": "assistant", "content": "He"}),
    chunk({"role": "assistant", "content": "llo"}),
    chunk({"role": "assistant"}, "stop"),
)


def by_mode(done: Replay) -> dict[tuple[str, str], Any]:
    return {(r.client, r.mode): r for r in done.runs}


def test_a_plain_stream_and_a_plain_body_are_read_right_by_every_python_client():
    done = replay(
        [streamed(*HELLO), plain({"role": "assistant", "content": "Hello"})], clients=PYTHON
    )
    assert sorted(by_mode(done)) == [
        ("langchain-openai", "invoke"),
        ("langchain-openai", "stream"),
        ("openai-python", ".stream()"),
        ("openai-python", "create"),
        ("openai-python", "create(stream=True)"),
    ]
    assert done.breaks() == []
    assert [c.version for c in done.clients] == ["3.63.0", "1.8.1"]


def test_role_repeated_in_every_delta_breaks_openai_python_and_not_langchain():
    done = replay([streamed(*ROLE_REPEATED)], clients=PYTHON)
    runs = by_mode(done)
    helper = runs[("openai-python", ".stream()")]
    assert helper.differences == [
        Difference("choices[0].role", "assistantassistantassistant", "assistant", 1)
    ]
    assert helper.what() == (
        "choices[0].role 'assistantassistantassistant' (should be 'assistant')"
    )
    assert runs[("openai-python", "create(stream=True)")].broken
    assert not runs[("langchain-openai", "stream")].broken


def test_a_tool_call_delta_without_index_raises_in_openai_python_at_the_event_that_has_it():
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    done = replay(
        [
            streamed(
                chunk({"role": "assistant"}),
                chunk({"tool_calls": [call]}),
                chunk({}, "tool_calls"),
                tools=True,
            )
        ],
        clients=PYTHON,
    )
    runs = by_mode(done)
    helper = runs[("openai-python", ".stream()")]
    assert helper.error == {
        "type": "TypeError",
        "message": "list indices must be integers or slices, not NoneType",
    }
    assert helper.chunk_index == 1
    assert helper.what() == (
        "TypeError at event 1: list indices must be integers or slices, not NoneType"
    )
    assert not runs[("langchain-openai", "stream")].broken  # it reads a missing index as 0


def test_streamed_tool_call_fragments_are_compared_with_the_suites_reassembly():
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"ci'},
    }
    rest = {"index": 0, "function": {"arguments": 'ty": "Oslo"}'}}
    exchange = streamed(
        chunk({"role": "assistant"}),
        chunk({"tool_calls": [first]}),
        chunk({"tool_calls": [rest]}),
        chunk({}, "tool_calls"),
        tools=True,
    )
    want = suite_reading(exchange)
    assert want is not None
    assert want.choices[0].tool_calls == [
        {"id": "call_1", "name": "get_weather", "arguments": '{"city": "Oslo"}'}
    ]
    assert replay([exchange], clients=PYTHON).breaks() == []


def test_content_as_a_list_of_parts_is_handed_on_by_openai_python_not_read_as_text():
    parts = [{"type": "text", "text": "Hello"}]
    done = replay([plain({"role": "assistant", "content": parts})], clients=("openai-python",))
    (run,) = done.runs
    assert run.differences == [Difference("choices[0].content", parts, "a string", None)]


def test_a_field_the_client_does_not_expose_is_not_compared_and_a_lost_one_is():
    want = Reading.from_dict(
        {"choices": [{"index": 0, "role": "assistant", "content": "Hi", "finish_reason": "stop"}]}
    )
    silent = Reading.from_dict(
        {"choices": [{"index": 0, "content": "Hi", "finish_reason": "stop"}]}
    )
    assert compare(want, silent) == []
    lost = Reading.from_dict({"choices": [{"index": 0, "content": "Hi"}]})
    assert compare(want, lost) == [
        Difference("choices[0].finish_reason", None, "stop", None, "lost")
    ]
    assert compare(want, Reading([])) == [Difference("choices", [], [0], None, "lost")]


def finding(exchange: Exchange, path: str, chunk_index: int | None = None) -> Finding:
    return Finding(
        title="t", json_path=path, chunk_index=chunk_index, check_id="c", exchange=exchange
    )


def test_a_break_is_linked_to_the_finding_on_its_field_and_otherwise_becomes_one_of_its_own():
    exchange = streamed(*ROLE_REPEATED)
    done = replay([exchange], clients=PYTHON)
    about_role = finding(exchange, "$.choices[0].delta.role", 1)
    about_usage = finding(exchange, "$.usage", 1)
    assert unnamed(done, [about_role, about_usage]) == []
    assert impact(about_role, done).summary() == (
        "breaks openai-python (create(stream=True): choices[0].role "
        "'assistantassistantassistant' (should be 'assistant'); .stream(): choices[0].role "
        "'assistantassistantassistant' (should be 'assistant')); langchain-openai reads it"
    )
    assert impact(about_usage, done).summary() == "every tested client reads it"
    left = unnamed(done, [about_usage])
    assert [(r.client, r.mode) for r in left] == [
        ("openai-python", "create(stream=True)"),
        ("openai-python", ".stream()"),
    ]
    own = break_finding(left[1], exchange)
    assert own.title == (
        "openai-python 3.63.0 (.stream()) misreads role: choices[0].role "
        "'assistantassistantassistant' (should be 'assistant')"
    )
    assert (own.kind, own.json_path, own.chunk_index) == (
        "openai-python .stream() misreads role",
        "$.choices[0].role",
        1,
    )


def test_no_finding_on_an_answer_every_client_reads_is_said_to_break_one():
    exchange = streamed(*HELLO)
    done = replay([exchange], clients=PYTHON)
    assert impact(finding(exchange, "$.created", 1), done).summary() == (
        "every tested client reads it"
    )


def test_readiness_is_limited_to_streaming_when_only_streams_break():
    good, bad = plain({"role": "assistant", "content": "Hi"}), streamed(*ROLE_REPEATED)
    done = replay([good, bad], clients=PYTHON)
    ready = readiness(done, [good, bad])
    assert readiness_line("openai-python", ready["openai-python"]) == (
        "openai-python 3.63.0: LIMITED (streaming)"
    )
    assert ready["openai-python"]["reason"] == "1 of 3 readings right"
    assert readiness_line("langchain-openai", ready["langchain-openai"]) == (
        "langchain-openai 1.8.1: READY"
    )


def test_a_client_not_installed_is_skipped_with_the_line_that_installs_it(tmp_path):
    done = replay([streamed(*HELLO)], clients=("openai-node", "ai-sdk"), node_dir=tmp_path)
    assert [c.to_dict() for c in done.clients] == [
        {
            "name": name,
            "version": None,
            "skipped": "the Node clients are not installed; install them with: "
            f"npm ci --prefix {tmp_path}",
            "error": None,
        }
        for name in ("openai-node", "ai-sdk")
    ]
    assert done.runs == []


def fake_runner(tmp_path: Path, script: str) -> Path:
    (tmp_path / "node_modules").mkdir(parents=True)
    (tmp_path / "node_modules" / ".package-lock.json").write_text("{}")  # npm's last write
    (tmp_path / "replay.mjs").write_text(script, encoding="utf-8")
    return tmp_path


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not on PATH")
def test_the_node_protocol_with_a_fake_runner_readings_and_a_broken_runner(tmp_path):
    reading = {
        "choices": [
            {
                "index": 0,
                "role": "assistant",
                "content": "Hxllo",
                "refusal": None,
                "reasoning": None,
                "tool_calls": [],
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": None,
    }
    node_line = {"client": "openai-node", "version": "6.49.0", "mode": "stream", "ok": True}
    node_line |= {"error": None, "reading": reading}
    sdk_line = {"client": "ai-sdk", "version": "6.0.0", "mode": "streamText", "ok": False}
    sdk_line |= {"error": {"type": "TypeError", "message": "boom"}, "reading": None}
    script = (
        'import readline from "node:readline";\n'
        "const input = readline.createInterface({ input: process.stdin });\n"
        "for await (const raw of input) { const e = JSON.parse(raw);\n"
        '  if (!e.stream || e.headers.some(([k]) => k === "content-length")) process.exit(9);\n'
        f"  console.log(JSON.stringify({{id: e.id, ...{json.dumps(node_line)}}}));\n"
        f"  console.log(JSON.stringify({{id: e.id, ...{json.dumps(sdk_line)}}}));\n"
        "}\n"
    )
    done = replay(
        [streamed(*HELLO)],
        clients=("openai-node", "ai-sdk"),
        node_dir=fake_runner(tmp_path / "ok", script),
    )
    runs = by_mode(done)
    assert runs[("openai-node", "stream")].differences == [
        Difference("choices[0].content", "Hxllo", "Hello", 0)
    ]
    assert runs[("ai-sdk", "streamText")].what() == "TypeError: boom"
    assert [c.version for c in done.clients] == ["6.49.0", "6.0.0"]
    broken = fake_runner(
        tmp_path / "broken", 'console.error("first"); console.error("it broke"); process.exit(3);\n'
    )
    done = replay([streamed(*HELLO)], clients=("openai-node",), node_dir=broken)
    assert done.clients[0].error == "the Node runner exited with 3: it broke"
    assert done.runs == []


def test_node_clients_half_installed_are_not_installed(tmp_path):
    # npm ci makes node_modules early and writes .package-lock.json last: until then the
    # clients are "not installed" (with the install line), never run half-installed.
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "replay.mjs").write_text("")
    from conformance.clients._node import command

    if shutil.which("node") is None:
        pytest.skip("node is not on PATH")
    assert command(tmp_path) == (
        None,
        f"the Node clients are not installed; install them with: npm ci --prefix {tmp_path}",
    )
