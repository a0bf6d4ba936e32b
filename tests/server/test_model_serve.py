"""The model-like mode end to end: `conformance serve --mode model` over a real socket, and
`conformance run --server-mode model` against the embedded server."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import CANARY, clean_env, load_results, run_cli, serving
from tests.server.helpers import assert_valid, chat_body
from tests.server.test_model_mode import TOOLS
from tests.server.test_serve import _wait_for_line

pytestmark = pytest.mark.e2e
HEADERS = {"authorization": f"Bearer {CANARY}"}


def _session(base_url: str, bodies: list[dict[str, Any]]) -> list[str]:
    """Each answer's choices (non-streamed) or its chunks' choices (streamed), as text."""
    out = []
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=30) as client:
        for body in bodies:
            response = client.post("/chat/completions", json=body)
            assert response.status_code == 200, response.text
            if not body.get("stream"):
                assert_valid("ChatCompletionResponse", response.json())
                out.append(json.dumps(response.json()["choices"]))
                continue
            assert response.headers["content-type"].startswith("text/event-stream")
            data = [e.removeprefix("data: ") for e in response.text.split("\n\n") if e]
            assert data[-1] == "[DONE]"
            chunks = [json.loads(d) for d in data[:-1]]
            for item in chunks:
                assert_valid("ChatCompletionChunk", item)
            assert len({c["created"] for c in chunks}) == 1
            out.append(json.dumps([c["choices"] for c in chunks]))
    return out


BODIES = [
    chat_body("Reply with exactly these words: one two three", max_tokens=16),
    chat_body(stream=True, stop=["e"]),
    chat_body(tools=TOOLS, tool_choice="required"),
    chat_body(response_format={"type": "json_object"}, stream=True),
    chat_body(),
]


def test_serve_mode_model_samples_and_a_seed_makes_it_reproducible():
    with serving("--mode", "model", "--seed", "5", "--profile", "strict") as base_url:
        seeded = _session(base_url, BODIES)
    with serving("--mode", "model", "--seed", "5", "--profile", "strict") as base_url:
        assert _session(base_url, BODIES) == seeded
    with serving("--mode", "model", "--profile", "strict") as base_url:
        fresh = [_session(base_url, BODIES), _session(base_url, BODIES)]
    assert fresh[0] != fresh[1]
    assert "one two three" not in seeded[0]  # a model that does not follow instructions


def test_run_against_the_embedded_server_in_model_mode_says_so(tmp_path):
    out = tmp_path / "reports"
    proc = run_cli("run", "--server-mode", "model", "--report-dir", str(out), "-q", "-k", "usage")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    data = load_results(out)
    assert data["endpoint"]["server_mode"] == "model"
    assert data["requests"] > 0
    html = (out / "report.html").read_text()
    assert "(embedded reference server) in model-like mode</dd>" in html
    toy = tmp_path / "toy"
    assert run_cli("run", "--report-dir", str(toy), "-q", "-k", "usage").returncode == 0
    assert load_results(toy)["endpoint"]["server_mode"] == "toy"


def test_server_mode_needs_the_embedded_server():
    proc = run_cli(
        "run", "--server-mode", "model", "--base-url", "http://127.0.0.1:9/v1", "--model", "m"
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        "conformance: error: --server-mode applies to the embedded reference server only; "
        "leave out --base-url (and CONFORMANCE_BASE_URL / OPENAI_BASE_URL) to use it.\n"
    )


def test_serve_says_it_runs_in_model_mode_and_with_which_seed():
    for args, note in (([], "fresh randomness"), (["--seed", "5"], "seed 5")):
        proc = subprocess.Popen(
            [sys.executable, "-m", "conformance", "serve", "--port", "0", "--mode", "model", *args],
            env=clean_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            line = _wait_for_line(proc, "Reference server running on", timeout=30)
            assert line.rstrip().endswith(f"/v1 (model-like mode, {note}; Press CTRL+C to quit)")
        finally:
            proc.terminate()
            proc.communicate(timeout=15)
