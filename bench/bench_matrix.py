"""The matrix of N endpoints, each with 300 ms latency, against the slowest single run; and
the latency figures of `--latency 0.3 --chunk-delay 0.05` against those settings.

    python3 -m bench.bench_matrix [--endpoints 3] [--latency 300ms] [--chunk-delay 50ms]

N `conformance serve` processes answer with the latency given; each is first run alone
(`conformance run`, as a user starts it), then all N at once with one `conformance matrix`.
Target: the matrix takes about as long as the slowest single run (ratio near 1), not N times
it. Then one run against a server with the chunk delay too: its p50 time to headers and p50
gap between chunks are compared with the settings (target: within 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from conformance.wire._units import parse_duration

KEY = "sk-bench-matrix-0000"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI"))}
    env.update(extra)
    return env


@contextmanager
def serving(*args: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "conformance", "serve", "--port", str(port), *args],
        env=_env(CONFORMANCE_SERVER_API_KEY=KEY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: list[float] = []  # CPU seconds of each timed command (its children included)


def timed(args: list[str]) -> float:
    cpu = cpu_of_children()
    started = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        env=_env(CONFORMANCE_API_KEY=KEY, BENCH_KEY=KEY),
        check=False,
    )
    wall = time.perf_counter() - started
    CPU.append(cpu_of_children() - cpu)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return wall


def matrix_against_single(count: int, latency: str, concurrency: int) -> None:
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        urls = [stack.enter_context(serving("--latency", latency)) for _ in range(count)]
        singles = []
        for n, url in enumerate(urls):
            report = str(Path(tmp) / f"single-{n}")
            singles.append(
                timed(
                    [
                        "run",
                        "-q",
                        "--base-url",
                        url,
                        "--model",
                        "conformance/reference-1",
                        "--report-dir",
                        report,
                        "--concurrency",
                        str(concurrency),
                    ]
                )
            )
        endpoints = Path(tmp) / "endpoints.yaml"
        endpoints.write_text(
            "endpoints:\n"
            + "".join(
                f"  e{n}:\n    base_url: {url}\n    model: conformance/reference-1\n"
                f"    api_key_env: BENCH_KEY\n    concurrency: {concurrency}\n"
                for n, url in enumerate(urls)
            )
        )
        single_cpu = sum(CPU[-count:])
        whole = timed(["matrix", str(endpoints), "--report-dir", str(Path(tmp) / "matrix")])
    slowest = max(singles)
    cores = os.cpu_count() or 1
    print(
        f"matrix of {count} endpoints at {latency}, concurrency {concurrency}: {whole:.2f} s; "
        "single runs "
        f"{', '.join(f'{s:.2f}' for s in singles)} s (slowest {slowest:.2f} s, sum "
        f"{sum(singles):.2f} s); matrix / slowest = {whole / slowest:.2f} "
        f"(N times would be {count:.0f}); CPU: {single_cpu:.1f} s for the single runs, "
        f"{CPU[-1]:.1f} s for the matrix; 1-minute load average {os.getloadavg()[0]:.1f} on "
        f"{cores} cores"
    )


def figures_against_settings(latency: str, chunk_delay: str, concurrency: int) -> None:
    want_headers, want_gap = (
        parse_duration(latency, "--latency"),
        parse_duration(chunk_delay, "--chunk-delay"),
    )
    with (
        serving("--latency", latency, "--chunk-delay", chunk_delay) as url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        timed(["run", "-q", "--base-url", url, "--model", "conformance/reference-1",
               "--report-dir", tmp, "--concurrency", str(concurrency)])  # fmt: skip
        figures = json.loads((Path(tmp) / "results.json").read_text())["latency"]
    headers, gap = figures["headers_s"]["p50"], figures["chunk_gap_s"]["p50"]
    rate = figures["output_tokens_per_s"]["p50"]
    print(
        f"--latency {latency} --chunk-delay {chunk_delay}, concurrency {concurrency}, "
        f"{figures['streamed_exchanges']} "
        f"streamed probes: headers p50 {headers * 1000:.1f} ms "
        f"({(headers / want_headers - 1) * 100:+.1f}%), chunk gap p50 {gap * 1000:.1f} ms "
        f"({(gap / want_gap - 1) * 100:+.1f}%), first token p50 "
        f"{figures['first_token_s']['p50'] * 1000:.1f} ms, {rate:g} tokens/s "
        f"(1 / chunk delay = {1 / want_gap:g})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoints", type=int, default=3)
    parser.add_argument("--latency", default="300ms")
    parser.add_argument("--chunk-delay", default="50ms")
    parser.add_argument(
        "--concurrency",
        default="8,1",
        help="per endpoint, comma-separated: 8 (the default of a run: on a loaded 2-core "
        "machine, start-up CPU dominates) and 1 (the 300 ms waits dominate)",
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    for concurrency in levels:
        matrix_against_single(args.endpoints, args.latency, concurrency)
    for concurrency in levels:
        figures_against_settings(args.latency, args.chunk_delay, concurrency)


if __name__ == "__main__":
    main()
