"""What `conformance proxy` adds: time to first byte and streamed throughput, proxy vs direct.

    python3 -m bench.bench_proxy [--delay 20ms] [--tokens 48]

Starts `conformance serve --chunk-delay DELAY` and `conformance proxy` in their own processes,
then at 1, 16 and 128 concurrent streams sends the same streamed requests straight to the
server and through the proxy, alternating rounds. Prints per level: time to first byte (the
first body byte after the request was sent) p50 and p99 for each path and what the proxy
added, streamed tokens per second (content events over the wall time of the round, all
streams together) for each path, and the proxy's peak RSS after the level (the proxy and its
judging process together; the multiprocessing resource tracker included).
Targets: TTFB added < 2 ms p50, no reduction in tokens/s, peak RSS < 300 MB at 128 streams.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

LEVELS = (1, 16, 128)
SAMPLES = {1: 40, 16: 160, 128: 512}  # streams per path and level
TARGET_TTFB_MS = 2.0
TARGET_RSS_MB = 300
MODEL = "conformance/reference-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def process(*args: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI_"))}
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "conformance", *args], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def peak_rss_mb(pid: int) -> float:
    """Peak RSS of the process and its children (the proxy's judging process)."""
    total = 0.0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for each in [pid, *map(int, children)]:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) / 1024
    return total


async def one(client: httpx.AsyncClient, url: str, tokens: int) -> tuple[float, int]:
    """(seconds to the first body byte, content events received) of one streamed request."""
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell me a story."}],
        "stream": True,
        "max_tokens": tokens,
    }
    started = time.perf_counter()
    first = None
    events = 0
    async with client.stream("POST", url, json=body) as response:
        async for piece in response.aiter_raw():
            if first is None:
                first = time.perf_counter() - started
            events += piece.count(b'"content":"')
    return first or float("nan"), events


async def round_of(
    url: str, concurrency: int, count: int, tokens: int
) -> tuple[list[float], float]:
    """TTFBs of ``count`` streams, ``concurrency`` at a time, and content events per second."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await one(client, url, 4)  # a warm connection

        async def gated() -> tuple[float, int]:
            async with gate:
                return await one(client, url, tokens)

        started = time.perf_counter()
        results = await asyncio.gather(*(gated() for _ in range(count)))
        wall = time.perf_counter() - started
    return [r[0] for r in results], sum(r[1] for r in results) / wall


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", default="20ms", help="the server's --chunk-delay")
    parser.add_argument("--tokens", type=int, default=48, help="max_tokens of each stream")
    options = parser.parse_args()
    serve_port, proxy_port = free_port(), free_port()
    direct = f"http://127.0.0.1:{serve_port}/v1/chat/completions"
    proxied = f"http://127.0.0.1:{proxy_port}/v1/chat/completions"
    with tempfile.TemporaryDirectory() as tmp, process(
        "serve", "--port", str(serve_port), "--chunk-delay", options.delay, port=serve_port
    ), process(
        "proxy", "--upstream", f"http://127.0.0.1:{serve_port}/v1", "--port", str(proxy_port),
        "--report-dir", tmp, "--every", "200", port=proxy_port,
    ) as proxy:  # fmt: skip
        print(
            f"chunk delay {options.delay}, max_tokens {options.tokens}; TTFB in ms; "
            "tokens/s = content events per second, all streams together"
        )
        print(
            f"{'streams':>7} {'direct p50':>10} {'p99':>7} {'proxy p50':>10} {'p99':>7} "
            f"{'added p50':>9} {'p99':>7} {'direct tok/s':>12} {'proxy tok/s':>11} {'RSS MB':>7}"
        )
        for url in (direct, proxied):  # warm: connections, and both servers' first requests
            asyncio.run(round_of(url, 4, 16, options.tokens))
        for level in LEVELS:
            ttfb = {"direct": [], "proxy": []}  # type: dict[str, list[float]]
            rate = {"direct": [], "proxy": []}  # type: dict[str, list[float]]
            rounds = 4
            for _ in range(rounds):
                for name, url in (("direct", direct), ("proxy", proxied)):
                    firsts, per_s = asyncio.run(
                        round_of(url, level, SAMPLES[level] // rounds, options.tokens)
                    )
                    ttfb[name] += firsts
                    rate[name].append(per_s)
            d50, d99 = pct(ttfb["direct"], 0.5), pct(ttfb["direct"], 0.99)
            p50, p99 = pct(ttfb["proxy"], 0.5), pct(ttfb["proxy"], 0.99)
            print(
                f"{level:>7} {d50:>10.2f} {d99:>7.2f} {p50:>10.2f} {p99:>7.2f} "
                f"{p50 - d50:>9.2f} {p99 - d99:>7.2f} {statistics.mean(rate['direct']):>12.0f} "
                f"{statistics.mean(rate['proxy']):>11.0f} {peak_rss_mb(proxy.pid):>7.0f}"
            )
        print(
            f"targets: TTFB added < {TARGET_TTFB_MS:g} ms p50; proxy tok/s >= direct; "
            f"peak RSS < {TARGET_RSS_MB} MB at 128 streams"
        )


if __name__ == "__main__":
    main()
