"""End to end on real sockets: the openai-python SDK talks to the reference server (defect
switches on, gzip on) through `conformance proxy`. Each defect appears in the proxy's report,
and the SDK received exactly the bytes the upstream sent (tapped at the upstream's socket)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from conformance.server import DEFAULT_MODEL, ServerConfig, create_app
from tests.e2e.conftest import clean_env, free_port, wait_listening

openai = pytest.importorskip("openai")

KEY = "sk-e2e-proxy-canary-778899"
DEFECTS = {
    "bad-usage-total": "usage_arithmetic",
    "missing-chunk-id": "chunk_schema",
    "role-user-answer": "message_role_assistant",
    "no-done": "stream_done_terminator",
}


class Tap:
    """ASGI middleware: the body bytes the upstream sent, per request, as they left it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sent: list[bytes] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []

        async def tapped(message: Any) -> None:
            if message["type"] == "http.response.body":
                parts.append(bytes(message.get("body", b"")))
                if not message.get("more_body", False):
                    self.sent.append(b"".join(parts))
            await send(message)

        await self.app(scope, receive, tapped)


@contextmanager
def upstream(tap: Tap) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(tap, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the upstream did not start")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = server.force_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def proxying(upstream_url: str, report_dir: Any) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "proxy", "--upstream", upstream_url,
         "--port", str(port), "--report-dir", str(report_dir), "--every", "1"],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_listening(proc, port, f"conformance proxy --upstream {upstream_url}")
        yield f"http://127.0.0.1:{port}/v1", proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def test_the_sdk_through_the_proxy_gets_the_upstreams_bytes_and_the_defects_are_reported(
    tmp_path,
):
    tap = Tap(create_app(ServerConfig(gzip=True, defects=frozenset(DEFECTS))))
    messages = [{"role": "user", "content": "a private prompt"}]
    with upstream(tap) as upstream_url, proxying(upstream_url, tmp_path) as (url, proc):
        client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0)
        # what the application parses
        answer = client.chat.completions.create(model=DEFAULT_MODEL, messages=messages)
        assert answer.usage is not None
        chunks = list(
            client.chat.completions.create(
                model=DEFAULT_MODEL,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert chunks
        # what the application received, byte for byte (still gzip: the proxy decodes nothing)
        received = []
        for stream in (False, True):
            with client.chat.completions.with_streaming_response.create(
                model=DEFAULT_MODEL, messages=messages, stream=stream
            ) as response:
                assert response.http_response.headers["content-encoding"] == "gzip"
                received.append(b"".join(response.http_response.iter_raw()))
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
    assert received == tap.sent[2:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["observed"]["exchanges"] == 4
    verdicts = {c["id"]: c["verdict"] for c in data["checks"]}
    assert {check: verdicts[check] for check in DEFECTS.values()} == dict.fromkeys(
        DEFECTS.values(), "FAIL"
    )
    for name in ("results.json", "report.html", "junit.xml"):
        text = (tmp_path / name).read_text()
        assert KEY not in text
        assert "a private prompt" not in text
    assert "stopped by SIGTERM" in err
