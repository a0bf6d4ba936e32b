"""Run probes and checks against the reference server with its faults, over a real socket."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conformance.checks import get_check
from conformance.contract._spec import default_contract
from conformance.engine._engine import Runner
from conformance.engine._result import CheckResult
from conformance.server import ServerConfig, serve_in_thread
from conformance.wire._client import Endpoint, Timeouts
from conformance.wire._ratelimit import RateLimiter
from conformance.wire._retry import RetryPolicy

KEY = "sk-live-test-0123456789abcdef"
# Small enough to keep each test to a fraction of a second, large enough for a loaded machine.
FAST = Timeouts(connect=2.0, read=2.0, idle=0.3, total=0.8)
QUICK_RETRIES = RetryPolicy(retries=3, max_wait=5.0, backoff=0.01, backoff_cap=0.05)


@contextmanager
def runner(
    *faults: str,
    timeouts: Timeouts = FAST,
    retry: RetryPolicy = QUICK_RETRIES,
    limiter: RateLimiter | None = None,
    concurrency: int = 8,
    **server: float,
) -> Iterator[Runner]:
    config = ServerConfig(api_key=KEY, faults=frozenset(faults), **server)
    with serve_in_thread(config) as running:
        endpoint = Endpoint(
            base_url=running.base_url, api_key=KEY, model=config.models[0], timeouts=timeouts
        )
        yield Runner(
            endpoint,
            default_contract(),
            retry=retry,
            limiter=limiter,
            concurrency=concurrency,
        )


def judge(run: Runner, check_ids: Iterable[str]) -> dict[str, CheckResult]:
    return {cid: run.evaluate(get_check(cid)) for cid in check_ids}


@contextmanager
def handled_by(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A server on 127.0.0.1 whose every request goes to ``handler`` (http.server's); yields
    its base URL (``.../v1``) and stops it after."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
