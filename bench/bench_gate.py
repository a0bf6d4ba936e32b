"""Does the baseline gate hold against a sampling model? (issue 21)

    python3 -m bench.bench_gate                          # 20 gated runs, checks then --phase all
    python3 -m bench.bench_gate --runs 5 --phase checks
    python3 -m bench.bench_gate --defect ignore-stop --defect no-done --seed 11

For each phase (``checks``; ``all`` with ``--seed S``): one ``conformance run`` against the
embedded reference server in its model-like mode (``--server-mode model``, fresh randomness
every request) with the defect switches on, ``conformance baseline write`` from it, then
``--runs`` runs of the same command with ``--baseline``. These are the real CLI commands
(child processes): the exit code is the gate's.

Printed per phase: the gated runs' exit codes and how many differ from the first gated
run's (flips; the gate holds at 0, every run exit 0); for each switch, in how many gated
runs the check that names it (tests/e2e/test_defects_found.py's tables) found it (FAIL or
WARN: a defect that shows on some answers only may go unprovoked in a run) and in how many
its finding was matched by the baseline (``gate.known``); every finding that came back as
new, with the number of runs; and seconds per run. The gate holds when nothing flips and
every finding found was matched.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.bench_stability import naming_checks

ROOT = Path(__file__).resolve().parents[1]
DEFECTS = ("tool-calls-finish-stop", "usage-total-sometimes-off", "json-schema-sometimes-off")


def conformance(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "CONFORMANCE_API_KEY"):
        env.pop(name, None)
    return subprocess.run(  # noqa: S603 - our own command
        [sys.executable, "-m", "conformance", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def phase(name: str, defects: list[str], runs: int, seed: int, work: Path) -> bool:
    """Run one phase; True when the gate held (no flip, every switch known every run)."""
    common = ["run", "-q", "--server-mode", "model", "--phase", name]
    if name != "checks":
        common += ["--seed", str(seed)]
    for defect in defects:
        common += ["--defect", defect]
    first = conformance(*common, "--report-dir", str(work / "first"))
    baseline = work / "baseline.yaml"
    wrote = conformance(
        "baseline", "write", str(work / "first" / "results.json"), "-o", str(baseline)
    )
    if first.returncode != 1 or wrote.returncode != 0:
        print(f"{name}: the first run exited {first.returncode}; baseline write {wrote.returncode}")
        print(first.stderr + wrote.stderr)
        return False
    naming = naming_checks()
    codes: list[int] = []
    matched: Counter[str] = Counter()
    found: Counter[str] = Counter()
    new: Counter[str] = Counter()
    seconds: list[float] = []
    for n in range(runs):
        report = work / f"gated-{n}"
        started = time.perf_counter()
        done = conformance(*common, "--baseline", str(baseline), "--report-dir", str(report))
        seconds.append(time.perf_counter() - started)
        codes.append(done.returncode)
        data = json.loads((report / "results.json").read_text())
        gate = data["gate"]
        known = {k["check"] for k in gate["known"]}
        failing = {c["id"] for c in data["checks"] if c["verdict"] in ("FAIL", "WARN")}
        for defect in defects:
            if naming.get(defect, set()) & failing:
                found[defect] += 1
            if naming.get(defect, set()) & known:
                matched[defect] += 1
        for finding in gate["new"]:
            new[f"{finding['check']} {finding['json_path']}: {finding['kind']}"] += 1
    flips = sum(1 for c in codes if c != codes[0])
    print(f"phase {name}" + (f" --seed {seed}" if name != "checks" else "") + ":")
    print(f"  baseline: {len(baseline.read_text().split('- check:')) - 1} entries")
    print(f"  exit codes of {runs} gated runs: {dict(Counter(codes))}; flips: {flips}")
    for defect in defects:
        print(
            f"  {defect}: found in {found[defect]} of {runs} runs, matched by the baseline "
            f"in {matched[defect]} of {runs}"
        )
    for what, count in new.most_common():
        print(f"  new in {count} of {runs}: {what}")
    print(f"  seconds per run: {sum(seconds) / len(seconds):.1f}")
    held = flips == 0 and codes[0] == 0 and all(matched[d] == found[d] for d in defects)
    print(f"  gate held: {'yes' if held else 'NO'}")
    return held


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--phase", choices=("checks", "all", "both"), default="both")
    parser.add_argument("--defect", action="append", default=[])
    args = parser.parse_args()
    defects = args.defect or list(DEFECTS)
    phases = ["checks", "all"] if args.phase == "both" else [args.phase]
    held = True
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        for name in phases:
            work = Path(tmp) / name
            work.mkdir()
            held = phase(name, defects, args.runs, args.seed, work) and held
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
