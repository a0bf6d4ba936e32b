"""Peak memory of a whole run against each resource-exhausting hostile server.

    python3 -m bench.bench_hostile

Starts the hostile servers of ``tests/live/hostile.py`` on a real socket, runs
``conformance run`` against each in a child process, and prints the child's peak RSS (target:
under 500 MB each), its wall time (target: under 60 s each), its exit code and the size of
its results.json. ``many-keys`` (3.5 MB with 220,000 keys on every answer) took 4.04 GB and
4 min 56 s before bodies were bounded in members; ``utf16-key`` answers in UTF-16.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.live.hostile import EXHAUSTING, KEY, MODEL, hostile_server

TARGET_MB = 500
TARGET_S = 60
CHILD = """
import resource, runpy, sys
sys.argv = ["conformance", *sys.argv[1:]]
try:
    runpy.run_module("conformance", run_name="__main__")
finally:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    sys.stderr.write(f"\\npeak-rss-kb {usage.ru_maxrss}\\n")
    sys.stderr.write(f"cpu-s {usage.ru_utime + usage.ru_stime}\\n")
"""


def run(url: str, report_dir: Path) -> tuple[float, float, float, int, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFORMANCE_", "OPENAI_"))}
    env["CONFORMANCE_API_KEY"] = KEY
    started = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-c", CHILD, "run", "--base-url", url, "--model", MODEL,
         "--report-dir", str(report_dir), "-q"],
        env=env, capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    took = time.perf_counter() - started
    peak = [line for line in proc.stderr.splitlines() if line.startswith("peak-rss-kb ")]
    rss_mb = int(peak[-1].split()[1]) / 1024 if peak else float("nan")
    cpu = [line for line in proc.stderr.splitlines() if line.startswith("cpu-s ")]
    cpu_s = float(cpu[-1].split()[1]) if cpu else float("nan")
    results = report_dir / "results.json"
    size = results.stat().st_size if results.exists() else -1
    return rss_mb, took, cpu_s, proc.returncode, size


def main() -> None:
    wanted = sys.argv[1:] or list(EXHAUSTING)
    print(f"{'server':<14}{'peak RSS':>12}{'wall':>10}{'CPU':>9}{'exit':>6}{'results.json':>15}")
    worst, slowest = 0.0, 0.0
    with hostile_server() as root, tempfile.TemporaryDirectory() as tmp:
        for name in wanted:
            rss, took, cpu, code, size = run(f"{root}/{name}/v1", Path(tmp) / name)
            worst, slowest = max(worst, rss), max(slowest, took)
            print(
                f"{name:<14}{rss:>9.0f} MB{took:>9.1f}s{cpu:>8.1f}s{code:>6}{size / 1024:>12.0f} KB"
            )
    print(f"worst peak RSS {worst:.0f} MB (target < {TARGET_MB} MB)")
    load = os.getloadavg()[0]
    print(f"slowest run {slowest:.1f} s wall (target < {TARGET_S} s), load average {load:.1f}")
    print("(on a shared machine the wall time is the load's; the CPU time is the run's own)")
    _ = resource  # the child measures itself with it


if __name__ == "__main__":
    main()
