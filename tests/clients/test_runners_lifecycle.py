"""The client runners start with the session and never outlive it."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest

from conformance._errors import SpecError
from conformance.clients._replay import Warm, replay
from conformance.run._session import Session
from conformance.run._settings import resolve_settings
from conformance.wire._exchange import Exchange, RecordedRequest
from tests.clients.test_replay import fake_runner


def test_a_session_that_cannot_start_ends_the_runners_it_started(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("openapi: 3.1.0\ninfo: [\n")
    session = Session(resolve_settings(spec=spec, env={}))
    with pytest.raises(SpecError), session:
        pass
    assert session._warm is not None  # started before the spec was read
    assert session._warm.workers  # the Python clients' runner at least
    ended = {name: w.process.poll() is not None for name, w in session._warm.workers.items()}
    assert ended == dict.fromkeys(session._warm.workers, True)


def _niceness(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of stat(5), counted after the command's ")"


ANSWER = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "ok"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
LINE = {
    "id": "chat",
    "stream": False,
    "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "status": 200,
    "headers": [["content-type", "application/json"]],
    "body_b64": base64.b64encode(json.dumps(ANSWER).encode()).decode(),
}


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc (Linux)")
def test_the_runners_run_at_the_lowest_priority_so_the_run_keeps_its_core(node_clients):
    warm = Warm(node_clients)
    try:
        assert set(warm.workers) == {"python", "node"}
        said = {}
        for name, worker in warm.workers.items():
            worker.send(LINE)
            # A runner lowers its priority before it loads its clients: once it has read
            # an answer, it runs at the lowest.
            deadline = time.monotonic() + 120
            while not worker._out and time.monotonic() < deadline:
                time.sleep(0.05)
            said[name] = _niceness(worker.process.pid)
        readings = warm.finish()
    finally:
        warm.close()
    assert said == {"python": 19, "node": 19}
    assert {(r.client, r.mode) for r in readings if r.error is None} == {
        ("openai-python", "create"),
        ("langchain-openai", "invoke"),
        ("openai-node", "create"),
        ("ai-sdk", "generateText"),
    }


# A runner speaking the protocol (node/replay.mjs's header) whose every read ran out of time,
# as a starved low-priority runner's may: the protocol case, without starving a machine.
TIMED_OUT = """
import readline from "node:readline";
const modes = { "openai-node": "create", "ai-sdk": "generateText" };
for await (const raw of readline.createInterface({ input: process.stdin })) {
  const { id } = JSON.parse(raw);
  for (const [client, mode] of Object.entries(modes)) {
    const error = { type: "ReplayTimeout", message: "the client did not finish in time" };
    const line = { id, client, version: "1", mode, ok: false, error, reading: null };
    console.log(JSON.stringify(line));
  }
}
"""


def test_a_client_that_runs_out_of_time_is_inconclusive_not_a_break(tmp_path):
    fake_runner(tmp_path, TIMED_OUT)
    exchange = Exchange(
        "chat",
        RecordedRequest("POST", "http://x/v1/chat/completions", {}, LINE["request"]),
        status=200,
        headers={"content-type": "application/json"},
        body=json.dumps(ANSWER).encode(),
    )
    node = ("openai-node", "ai-sdk")
    warm = Warm(tmp_path, clients=node)
    try:
        done = replay([exchange], clients=node, warm=warm)
    finally:
        warm.close()
    assert done.runs == []  # no break is claimed
    assert {c.name: c.error for c in done.clients} == {
        name: f"{name} did not finish reading chat ({mode}) within its time; the runner "
        "works at the lowest priority, so on a loaded machine this is inconclusive, not a "
        "break (rerun, or --no-clients)"
        for name, mode in (("openai-node", "create"), ("ai-sdk", "generateText"))
    }
