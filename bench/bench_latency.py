"""Wall time of a full default run against the reference server with 300 ms latency per
request, at concurrency 1, 4, 8 and 16, against the target
1.3 x (requests x 0.3 s / N) + start-up.

    python3 -m bench.bench_latency [--latency 300ms] [--concurrency 1,4,8,16]

Start-up is measured as the same run with no latency (imports, contract, server, pytest,
report). Each run is `python -m conformance run` in its own process, as a user runs it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from conformance.wire._units import parse_duration


def run(concurrency: int, latency: str | None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, "-m", "conformance", "run", "-q", "--report-dir", tmp]
        args += ["--concurrency", str(concurrency)]
        if latency:
            args += ["--latency", latency]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI"))}
        started = time.perf_counter()
        proc = subprocess.run(  # noqa: S603 - our own command
            args, capture_output=True, text=True, env=env, check=False
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        data = json.loads((Path(tmp) / "results.json").read_text())
        return wall, int(data["requests"])


def request_phase(concurrency: int, latency: float) -> tuple[float, int]:
    """In one process: the time from the first probe sent to the last answered, after the
    preflight, against the embedded server with ``latency`` (no start-up in it)."""
    from conformance.checks import registered_checks
    from conformance.run._session import Session
    from conformance.run._settings import resolve_settings

    settings = resolve_settings(concurrency=concurrency, env={})
    with Session(settings, server_options={"latency_s": latency}) as session:
        assert session.preflight() is None
        probes = [p for c in registered_checks() for p in c.probes]
        started = time.perf_counter()
        session.runner.fetch(probes)
        return time.perf_counter() - started, session.runner.requests_sent - 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", default="300ms")
    parser.add_argument("--concurrency", default="1,4,8,16")
    options = parser.parse_args()
    latency = parse_duration(options.latency, "--latency")
    levels = [int(n) for n in options.concurrency.split(",")]
    print(f"request phase (in process, after the preflight), --latency {options.latency}")
    print(f"{'N':>3} {'requests':>8} {'phase':>7} {'ideal':>7} {'1.3x':>7}  ok")
    for n in levels:
        phase, requests = min(request_phase(n, latency) for _ in range(2))
        ideal = requests * latency / n
        rounds = math.ceil(requests / n)
        print(
            f"{n:>3} {requests:>8} {phase:>6.2f}s {ideal:>6.2f}s {1.3 * ideal:>6.2f}s  "
            f"{'yes' if phase <= 1.3 * ideal else 'NO '} (floor: {rounds} rounds = "
            f"{rounds * latency:.2f}s)"
        )
    print(f"full default run (own process, as a user runs it), --latency {options.latency}")
    print(f"{'N':>3} {'requests':>8} {'start-up':>9} {'wall':>7} {'ideal':>7} {'target':>7}  ok")
    for n in levels:
        startup = min(run(n, None)[0] for _ in range(2))
        wall, requests = min(run(n, options.latency) for _ in range(2))
        ideal = requests * latency / n
        target = 1.3 * ideal + startup
        rounds = math.ceil((requests - 1) / n) + 1  # the preflight goes alone
        floor = rounds * latency + startup  # whole rounds of latency: no run can beat this
        print(
            f"{n:>3} {requests:>8} {startup:>8.2f}s {wall:>6.2f}s {ideal:>6.2f}s {target:>6.2f}s"
            f"  {'yes' if wall <= target else 'NO '} (floor: {rounds} rounds = {floor:.2f}s)"
        )


if __name__ == "__main__":
    main()
