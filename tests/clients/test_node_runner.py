"""The Node replay runner (conformance/clients/node/replay.mjs) on hand-built exchanges: its
protocol, and what openai-node and the AI SDK really make of bytes that differ in one way.

Each expectation here was measured by running the pinned clients, never assumed: the runner
is the only place the project learns what a Node client does with an answer.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients._build import chunk

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


def sse(*chunks: dict[str, Any]) -> bytes:
    events = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return (events + "data: [DONE]\n\n").encode()


def exchange(
    name: str, body: bytes, *, stream: bool, tools: bool = False, status: int = 200
) -> dict[str, Any]:
    request: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    if tools:
        request["tools"] = TOOLS
    media = "text/event-stream" if stream else "application/json"
    return {
        "id": name,
        "stream": stream,
        "request": request,
        "status": status,
        "headers": [["content-type", media]],
        "body_b64": base64.b64encode(body).decode(),
    }


def replay(node_clients: Path, *exchanges: dict[str, Any]) -> dict[tuple[str, str], Any]:
    node = shutil.which("node")
    assert node is not None
    proc = subprocess.run(
        [node, str(node_clients / "replay.mjs")],
        input="".join(json.dumps(e) + "\n" for e in exchanges),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 2 * len(exchanges)
    return {(line["id"], line["client"]): line for line in lines}


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
PLAIN_STREAM = sse(
    chunk({"role": "assistant", "content": "Hel"}),
    chunk({"content": "lo"}),
    chunk({}, "stop"),
    {**chunk({}), "choices": [], "usage": USAGE},
)
ROLE_EVERY_DELTA = sse(
    chunk({"role": "assistant", "content": "Hel"}),
    chunk({"role": "assistant", "content": "lo"}),
    chunk({"role": "assistant"}, "stop"),
)
TOOL_STREAM = sse(
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"ci'},
                }
            ],
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ty": "Paris"}'}}]}),
    chunk({}, "tool_calls"),
)
TOOL_STREAM_NO_INDEX = sse(
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        }
    ),
    chunk({}, "tool_calls"),
)
CUT_TOOL_STREAM = sse(  # max_tokens cut the arguments: finish_reason "length"
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Par'},
                }
            ],
        }
    ),
    chunk({}, "length"),
)
PLAIN_BODY = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": USAGE,
    }
).encode()


@pytest.fixture(scope="module")
def readings(node_clients: Path) -> dict[tuple[str, str], Any]:
    return replay(
        node_clients,
        exchange("plain", PLAIN_STREAM, stream=True),
        exchange("role-every-delta", ROLE_EVERY_DELTA, stream=True),
        exchange("tools", TOOL_STREAM, stream=True, tools=True),
        exchange("tools-no-index", TOOL_STREAM_NO_INDEX, stream=True, tools=True),
        exchange("tools-cut", CUT_TOOL_STREAM, stream=True, tools=True),
        exchange("body", PLAIN_BODY, stream=False),
        exchange("refused", b'{"error": {"message": "no", "type": "x"}}', stream=False, status=400),
    )


def choice(line: dict[str, Any]) -> dict[str, Any]:
    assert line["ok"], line["error"]
    return line["reading"]["choices"][0]  # type: ignore[no-any-return]


def test_each_line_names_client_version_and_mode(readings):
    assert readings["plain", "openai-node"]["version"] == "6.49.0"
    assert readings["plain", "ai-sdk"]["version"] == "6.0.333"
    assert readings["plain", "openai-node"]["mode"] == "stream"
    assert readings["plain", "ai-sdk"]["mode"] == "streamText"
    assert readings["body", "openai-node"]["mode"] == "create"
    assert readings["body", "ai-sdk"]["mode"] == "generateText"


def test_a_plain_stream_reads_alike_in_both_clients(readings):
    node, sdk = choice(readings["plain", "openai-node"]), choice(readings["plain", "ai-sdk"])
    assert (node["role"], node["content"], node["finish_reason"]) == ("assistant", "Hello", "stop")
    assert (sdk["role"], sdk["content"], sdk["finish_reason"]) == (None, "Hello", "stop")
    assert readings["plain", "openai-node"]["reading"]["usage"] == USAGE
    assert readings["plain", "ai-sdk"]["reading"]["usage"] == USAGE


def test_role_in_every_delta_is_read_once_by_openai_node(readings):
    # Measured: openai-node 6.49's ChatCompletionStream assigns role, it does not concatenate.
    assert choice(readings["role-every-delta", "openai-node"])["role"] == "assistant"
    assert choice(readings["role-every-delta", "ai-sdk"])["content"] == "Hello"


def test_streamed_tool_call_fragments_reassemble(readings):
    expected = {"id": "call_1", "name": "get_weather"}
    node = choice(readings["tools", "openai-node"])
    assert node["finish_reason"] == "tool_calls"
    assert [{k: c[k] for k in expected} for c in node["tool_calls"]] == [expected]
    assert json.loads(node["tool_calls"][0]["arguments"]) == {"city": "Paris"}
    sdk = choice(readings["tools", "ai-sdk"])
    assert sdk["finish_reason"] == "tool_calls"
    assert json.loads(sdk["tool_calls"][0]["arguments"]) == {"city": "Paris"}


def test_a_tool_call_delta_without_index_is_lost_by_openai_node_not_by_the_ai_sdk(readings):
    # Measured: openai-node drops the call silently (no exception), the AI SDK keeps it.
    node = choice(readings["tools-no-index", "openai-node"])
    assert (node["tool_calls"], node["finish_reason"]) == ([], "tool_calls")
    sdk = choice(readings["tools-no-index", "ai-sdk"])
    assert [c["name"] for c in sdk["tool_calls"]] == ["get_weather"]
    assert readings["tools-no-index", "ai-sdk"]["reading"]["usage"] is None


def test_a_refusal_is_an_error_of_the_client_not_a_crash_of_the_runner(readings):
    for client in ("openai-node", "ai-sdk"):
        line = readings["refused", client]
        assert line["ok"] is False
        assert line["reading"] is None
        assert line["error"]["message"]


def test_arguments_cut_by_the_cap_are_read_as_sent_by_both_clients(readings):
    # The AI SDK cannot parse them (an invalid call, and a tool-error part): the runner reports
    # the call with its raw input, as the bytes hold it, not as a failure of the client.
    for client in ("openai-node", "ai-sdk"):
        read = choice(readings["tools-cut", client])
        assert read["finish_reason"] == "length"
        assert [(c["name"], c["arguments"]) for c in read["tool_calls"]] == [
            ("get_weather", '{"city": "Par')
        ]
