"""The reference server on a real socket, and its settings."""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conformance._errors import ConfigError
from conformance.server import ServerConfig, serve, serve_in_thread
from tests.server.helpers import assert_valid, chat_body

KEY = "sk-canary-77e1d2"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_real_socket_serves_a_response_and_a_stream_read_as_it_comes():
    with serve_in_thread(ServerConfig(api_key=KEY)) as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert server.port > 0
        headers = {"authorization": f"Bearer {KEY}"}
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=10) as client:
            response = client.post("/chat/completions", json=chat_body())
            assert response.status_code == 200
            assert_valid("ChatCompletionResponse", response.json())
            wrong = {"authorization": "Bearer no"}
            assert (
                client.post("/chat/completions", json=chat_body(), headers=wrong).status_code == 401
            )

            data = []
            with client.stream("POST", "/chat/completions", json=chat_body(stream=True, n=2)) as r:
                assert r.headers["content-type"] == "text/event-stream; charset=utf-8"
                for line in r.iter_lines():  # events are parsed as the lines arrive
                    if line:
                        assert line.startswith("data: ")
                        data.append(line.removeprefix("data: "))
        assert data[-1] == "[DONE]"
        chunks = [json.loads(d) for d in data[:-1]]
        for c in chunks:
            assert_valid("ChatCompletionChunk", c)
        assert {c["choices"][0]["index"] for c in chunks} == {0, 1}
        port = server.port
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), 1):
        pass  # stopped: nothing listens any more


@pytest.mark.e2e
def test_requests_on_a_kept_alive_connection_are_not_stalled():
    """Nagle's algorithm with delayed ACKs would cost ~40 ms per request: 20 take > 0.8 s."""
    with serve_in_thread() as server, httpx.Client(base_url=server.base_url, timeout=10) as client:
        client.post("/chat/completions", json=chat_body()).raise_for_status()
        started = time.perf_counter()
        for _ in range(20):
            client.post("/chat/completions", json=chat_body()).raise_for_status()
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"20 requests took {elapsed:.2f}s"


@pytest.mark.e2e
def test_two_servers_run_side_by_side_with_their_own_settings():
    with (
        serve_in_thread(ServerConfig(models=("a/one",))) as one,
        serve_in_thread(ServerConfig(models=("b/two",), defects=frozenset({"no-done"}))) as two,
    ):
        assert one.port != two.port
        assert two.config.defects == {"no-done"}
        first = httpx.get(f"{one.base_url}/models", timeout=10).json()
        second = httpx.get(f"{two.base_url}/models", timeout=10).json()
    assert [m["id"] for m in first["data"]] == ["a/one"]
    assert [m["id"] for m in second["data"]] == ["b/two"]


@pytest.mark.e2e
def test_serve_blocks_until_interrupted_and_then_returns():
    code = "from conformance.server import serve; serve(port=0); print('returned')"
    proc = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        line = _wait_for_line(proc, "Reference server running on", timeout=30)
        url = line.split("running on ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/v1")
        response = httpx.post(f"{url}/chat/completions", json=chat_body(), timeout=10)
        assert response.status_code == 200
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
        assert proc.returncode == 0
        access_log, returned = out.splitlines()
        assert access_log.endswith('"POST /v1/chat/completions HTTP/1.1" 200 OK')
        assert returned == "returned"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def _wait_for_line(proc, needle, timeout):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 0.1)
        if ready:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            if needle in line:
                return line
    pytest.fail(f"no {needle!r} within {timeout}s; stderr so far: {''.join(seen)!r}")


def test_a_busy_port_is_a_config_error_with_the_fix():
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        expected = (
            f"cannot listen on 127.0.0.1:{port}: Address already in use. Pass another --port "
            "(0 picks a free one) or stop the program using this one."
        )
        with pytest.raises(ConfigError) as caught:
            serve(ServerConfig(), port=port)
        assert str(caught.value) == expected
        with pytest.raises(ConfigError) as caught, serve_in_thread(port=port):
            pass
        assert str(caught.value) == expected


def test_a_port_out_of_range_or_an_unknown_host_is_a_config_error():
    with pytest.raises(ConfigError) as caught:
        serve(port=70000)
    assert str(caught.value) == (
        "--port 70000 is not a TCP port; use 1-65535, or 0 for any free port."
    )
    with pytest.raises(ConfigError, match=r"^--host 'no-such-host\.invalid' cannot be resolved"):
        serve(host="no-such-host.invalid", port=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profile": "lenient"}, "profile 'lenient' is unknown. Use 'strict' (the document as "
         "written) or 'openai' (the document with schemas/openai.overlay.yaml applied, see "
         "schemas/ERRATA.md)."),
        ({"models": ()}, "models must be a non-empty list of model names, got []; pass at "
         "least one name, e.g. ('conformance/reference-1',)."),
        ({"models": ("ok", "")}, "models must be a non-empty list of model names, got "
         "['ok', '']; pass at least one name, e.g. ('conformance/reference-1',)."),
        ({"api_key": ""}, "api_key is the empty string; pass None to serve without "
         "authentication or a non-empty key to require `Authorization: Bearer <key>`."),
    ],
)  # fmt: skip
def test_bad_settings_are_value_errors_with_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=r"^(profile|models|api_key) ") as caught:
        ServerConfig(**kwargs)
    assert str(caught.value) == message


def test_settings_accept_any_collection_and_stay_immutable():
    config = ServerConfig(models=["a", "b"], defects={"no-done"})
    assert config.models == ("a", "b")
    assert config.defects == frozenset({"no-done"})
    assert config.has("no-done")
    assert not config.has("wrong-object")
    with pytest.raises(KeyError, match="'no-dne' is not a defect"):
        config.has("no-dne")
