"""Are verdicts stable against a sampling model, and is every defect found in every run?

    python3 -m bench.bench_stability                      # everything: 20 runs each
    python3 -m bench.bench_stability --runs 5 --clean     # only the defect-free runs
    python3 -m bench.bench_stability --defect stop-text-kept --defect ignore-stop
    python3 -m bench.bench_stability --trials 1           # what repetition buys
    python3 -m bench.bench_stability --profile openai     # tool calls streamed in fragments

Each run is the default check phase (the fixed probes, ``--trials`` as given or the
default), sent in-process to the reference server in its model-like mode (no seed: fresh
randomness every request) through ``httpx.ASGITransport``: the same engine, probes and
checks as ``conformance run --server-mode model``, without the socket, pytest or HTML.

Printed: for the clean server, how many runs had a FAIL and how many checks changed
verdict between runs; for each defect switch, in how many runs the check that names it
(the e2e tests' tables in tests/e2e/test_defects_found.py) said FAIL or WARN; and the
requests and tokens of a run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from conformance.checks._model import Verdict
from conformance.contract._spec import Contract
from conformance.engine._evidence import DEFAULT_EVIDENCE_TOKENS
from conformance.run._settings import DEFAULT_TRIALS
from conformance.server import DEFECTS, ServerConfig, create_app
from tests.e2e._inprocess import KEY, run_app

FOUND = {Verdict.FAIL, Verdict.WARN}
EVIDENCE = DEFAULT_EVIDENCE_TOKENS  # --evidence-tokens of a run (--evidence-tokens here)


def naming_checks(profile: str = "strict") -> dict[str, set[str]]:
    """defect -> the checks whose FAIL or WARN finds it (the e2e tests' tables; under the
    openai profile the tool-stream defects' table of its own)."""
    from tests.e2e.test_defects_found import EXPECTED, SOMETIMES
    from tests.e2e.test_tool_streams_found import EXPECTED as OPENAI_TOOL_STREAMS

    tables = {**EXPECTED, **{d: model for d, (model, _) in SOMETIMES.items()}}
    if profile == "openai":
        tables.update(
            {d: {c: v for c, (v, _) in t.items()} for d, t in OPENAI_TOOL_STREAMS.items()}
        )
    return {d: {c for c, v in want.items() if v in FOUND} for d, want in tables.items()}


@dataclass
class Run:
    verdicts: dict[str, Verdict]
    requests: int
    tokens: int
    seconds: float
    rates: dict[str, list[str]] = field(default_factory=dict)  # check -> "seen of trials"


def one_run(contract: Contract, defects: frozenset[str], trials: int) -> Run:
    config = ServerConfig(  # no seed: fresh luck
        api_key=KEY, mode="model", defects=defects, profile=contract.profile
    )
    started = time.perf_counter()
    runner, results = run_app(
        create_app(config), trials=trials, contract=contract, evidence_tokens=EVIDENCE
    )
    return Run(
        verdicts={r.check.id: r.verdict for r in results},
        requests=runner.requests_sent,
        tokens=runner.usage().total,
        seconds=time.perf_counter() - started,
        rates={
            r.check.id: [f"{f.seen}/{f.trials}" for f in r.findings if f.trials > 1]
            for r in results
            if r.findings
        },
    )


def clean(contract: Contract, runs: int, trials: int) -> list[Run]:
    done = [one_run(contract, frozenset(), trials) for _ in range(runs)]
    failing = [i for i, r in enumerate(done) if Verdict.FAIL in r.verdicts.values()]
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for run in done:
        for check_id, verdict in run.verdicts.items():
            seen[check_id][verdict.value] += 1
    changed = {c: dict(v) for c, v in seen.items() if len(v) > 1}
    print(f"clean model-like server, {runs} runs, --trials {trials}:")
    print(f"  runs with a FAIL: {len(failing)} of {runs}")
    print(f"  checks whose verdict changed between runs: {len(changed)} of {len(seen)}")
    for check_id, counts in sorted(changed.items()):
        print(f"    {check_id}: {counts}")
    for run in done:
        for check_id in run.verdicts:
            if run.verdicts[check_id] in FOUND:
                print(f"    {run.verdicts[check_id].value} {check_id} {run.rates.get(check_id)}")
    return done


def defects(contract: Contract, names: list[str], runs: int, trials: int) -> int:
    table = naming_checks(contract.profile)
    missed = 0
    print(f"defect switches, {runs} runs each, --trials {trials} (found: runs in which the")
    print("check that names the defect said FAIL or WARN):")
    for name in names:
        wanted = table.get(name)
        if not wanted:
            print(f"  {name:40s} no check names it in the table: skipped")
            continue
        found = 0
        for _ in range(runs):
            run = one_run(contract, frozenset({name}), trials)
            found += any(run.verdicts.get(c) in FOUND for c in wanted)
        missed += found < runs
        mark = "" if found == runs else "   <-- missed"
        print(f"  {name:40s} {found:3d} of {runs}  ({', '.join(sorted(wanted))}){mark}")
    return missed


def summary(done: list[Run]) -> None:
    requests = [r.requests for r in done]
    tokens = [r.tokens for r in done]
    seconds = [r.seconds for r in done]
    print(
        f"  per run: {statistics.mean(requests):.0f} requests (min {min(requests)}, max "
        f"{max(requests)}), {statistics.mean(tokens):.0f} tokens (min {min(tokens)}, max "
        f"{max(tokens)}), {statistics.mean(seconds):.2f} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per configuration (20)")
    parser.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help="--trials of a run")
    parser.add_argument(
        "--defect", action="append", default=None, help="only this defect (repeatable)"
    )
    parser.add_argument("--clean", action="store_true", help="only the defect-free runs")
    parser.add_argument("--no-clean", action="store_true", help="skip the defect-free runs")
    parser.add_argument(
        "--profile", choices=("strict", "openai"), default="strict", help="of server and run"
    )
    args = parser.parse_args(argv)
    contract = Contract.load(None, profile=args.profile)
    if not args.no_clean:
        summary(clean(contract, args.runs, args.trials))
    if args.clean:
        return 0
    names = args.defect or sorted(DEFECTS)
    unknown = [n for n in names if n not in DEFECTS]
    if unknown:
        parser.error(f"unknown defect {unknown}; known: {', '.join(sorted(DEFECTS))}")
    missed = defects(contract, names, args.runs, args.trials)
    print(f"defects missed in some run: {missed}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
