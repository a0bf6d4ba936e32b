"""What the client replay costs, and what it says about real providers' recorded answers.

    python3 -m bench.bench_replay                 # 3 default runs with and 3 without clients
    python3 -m bench.bench_replay --runs 5
    python3 -m bench.bench_replay --recorded ../shared/recorded   # the README's table

Cost: `conformance run` (the default run on the embedded server, as a user types it) in a
child process, alternately with the client replay (the default) and with `--no-clients`;
printed: the median wall time of each, the difference as a share of the run without clients
(target < 20%: the Node process's start-up is counted, it starts with the run), and the
replay's own time as results.json records it (`clients.replay.duration_s`).

Recorded: every recording replayed through every client and judged by the single-exchange
checks under the openai profile (`run._recorded`), printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 0.20


def one_run(clients: bool) -> tuple[float, float]:
    """(wall seconds of the whole command, the replay's own seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "conformance", "run", "-q", "--report-dir", tmp]
        if not clients:
            command.append("--no-clients")
        started = time.perf_counter()
        subprocess.run(command, check=False, capture_output=True)  # noqa: S603
        wall = time.perf_counter() - started
        data = json.loads((Path(tmp) / "results.json").read_text())
        replay = (data.get("clients") or {}).get("replay") or {}
        return wall, float(replay.get("duration_s") or 0.0)


def cost(runs: int) -> None:
    with_clients: list[float] = []
    without: list[float] = []
    replay: list[float] = []
    for _ in range(runs):
        wall, spent = one_run(True)
        with_clients.append(wall)
        replay.append(spent)
        without.append(one_run(False)[0])
    a, b = statistics.median(with_clients), statistics.median(without)
    share = (a - b) / b
    print(f"default run, {runs} runs each (median wall time of `conformance run`):")
    print(f"  with the client replay:  {a:6.2f} s   {', '.join(f'{x:.2f}' for x in with_clients)}")
    print(f"  --no-clients:            {b:6.2f} s   {', '.join(f'{x:.2f}' for x in without)}")
    print(
        f"  replay cost:             {a - b:6.2f} s = {share:.0%} of a run without it "
        f"(target < {TARGET:.0%}: {'met' if share < TARGET else 'NOT met'})"
    )
    print(
        f"  the replay itself:       {statistics.median(replay):6.2f} s (results.json "
        "clients.replay.duration_s, after the checks; Node and imports start with the run)"
    )


def recorded(directory: Path) -> None:
    from conformance.run._recorded import judge_recordings

    judged, replayed = judge_recordings(directory)
    versions = ", ".join(f"{c.name} {c.version}" for c in replayed.clients if c.version)
    print(f"clients: {versions}")
    print()
    print("| recording | clients that break, and why | the suite's findings (openai profile) |")
    print("| --- | --- | --- |")
    for one in judged:
        row = one.row(replayed)
        breaks = "; ".join(row["breaks"]) or "none: every client reads it"
        found = [f"**{f}** (MUST)" if f in row["breaking"] else f"{f} (MUST)" for f in row["must"]]
        found += [
            f"**{f}** (SHOULD)" if f in row["breaking"] else f"{f} (SHOULD)" for f in row["should"]
        ]
        text = "; ".join(found) or "none"
        print(f"| `{row['recording']}` | {breaks.replace('|', '/')} | {text.replace('|', '/')} |")
    breaks = sum(1 for one in judged if one.breaks)
    print()
    print(
        f"{len(judged)} recordings; {breaks} break a client; bold: the findings that name a break"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--recorded", type=Path, default=None)
    args = parser.parse_args()
    if args.recorded is not None:
        recorded(args.recorded)
    else:
        cost(args.runs)


if __name__ == "__main__":
    main()
