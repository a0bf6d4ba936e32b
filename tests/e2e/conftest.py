"""Helpers for end-to-end tests: run the command as a user would, on real sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CANARY = "sk-canary-9f8e7d6c5b4a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI_"))}
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        env=env or clean_env(),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def load_results(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "results.json").read_text())


def wait_listening(
    proc: subprocess.Popen[Any], port: int, what: str, timeout: float = 30.0
) -> None:
    """Return once ``proc`` (described as ``what``) accepts connections on ``port``; raise
    RuntimeError, with its stderr, when it exits first or does not listen within ``timeout``
    seconds (the caller stops it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                text = err.decode(errors="replace") if isinstance(err, bytes) else err
                raise RuntimeError(f"{what} exited before listening: {text}") from None
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen within {timeout:g} s")


@contextmanager
def serving(*args: str, key: str | None = CANARY) -> Iterator[str]:
    """`conformance serve ARGS` in its own process on a free port, requiring ``key`` (None:
    open); yields its base URL once it listens, and stops it after."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "serve", "--port", str(port), *args],
        env=clean_env(CONFORMANCE_SERVER_API_KEY=key) if key else clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_listening(proc, port, f"conformance serve {' '.join(args)}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        finally:  # an unclosed pipe warns (an error here) in whichever later test GC runs
            if proc.stderr is not None:
                proc.stderr.close()


@pytest.fixture
def served() -> Iterator[str]:
    """`conformance serve` in its own process, with a key; yields its base URL."""
    with serving() as url:
        yield url
