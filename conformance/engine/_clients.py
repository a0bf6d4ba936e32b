"""The verdict of ``client_reads_exchange``: the client replay's breaks that no other
finding names, judged after every other check (``clients._impact``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from conformance.checks import Check
from conformance.checks._model import (
    TRIAL_MARK,
    Finding,
    Verdict,
    merge_trials,
    probe_family,
)
from conformance.clients import Replay, replay
from conformance.clients._impact import CLIENT_CHECK, break_finding, unnamed
from conformance.engine._engine import Runner
from conformance.engine._result import CheckResult
from conformance.wire._exchange import Exchange
from conformance.wire._redact import Redactor


def client_result(
    check: Check,
    replay: Replay | None,
    judged: Sequence[CheckResult],
    exchanges: Sequence[Exchange],
    redactor: Redactor,
) -> CheckResult:
    """``check`` (client_reads_exchange) judged on ``replay``, given the other results."""
    started = time.perf_counter()
    if replay is None:
        reason = "the client replay is off (--no-clients)"
        return CheckResult(check=check, verdict=Verdict.SKIP, reason=reason)
    by_id = {e.id: e for e in exchanges}
    others = [f for r in judged if r.check.id != check.id for f in r.findings]
    findings: list[Finding] = []
    for run in unnamed(replay, others):
        finding = break_finding(run, by_id.get(run.exchange))
        own = replace(finding, check_id=check.id, severity=check.severity)
        findings.append(own.redacted(redactor))
    replayed = [by_id[i] for i in replay.exchanges if i in by_id]
    findings = _over_trials(findings, replayed)
    problems = [f"{c.name}: {c.error}" for c in replay.clients if c.error is not None]
    tested = replay.tested()
    if findings:
        verdict, reason = Verdict.WARN, "; ".join(problems)
    elif problems:
        verdict, reason = Verdict.ERROR, "; ".join(problems)
    elif not tested:
        reasons = [c.skipped or "" for c in replay.clients]
        verdict, reason = Verdict.SKIP, "no client installed: " + "; ".join(reasons)
    elif not replayed:
        verdict, reason = Verdict.SKIP, "not provoked: no 2xx answer to replay"
    else:
        verdict = Verdict.PASS
        reason = f"{len(replayed)} answers read right by {', '.join(tested)}"
    return CheckResult(
        check=check,
        verdict=verdict,
        findings=findings,
        exchanges=replayed,
        reason=redactor.text(reason),
        duration_s=time.perf_counter() - started + replay.duration_s,
    )


def _over_trials(findings: list[Finding], replayed: Sequence[Exchange]) -> list[Finding]:
    """One finding per identity across trials (``merge_trials``, as the engine merges a
    check's): ``seen`` in how many trials of its probes a break showed, of ``trials``."""
    per_trial: dict[int, list[Finding]] = {}
    for finding in findings:
        trial = _trial(finding.exchange.id) if finding.exchange is not None else 1
        per_trial.setdefault(trial, []).append(finding)
    trials: dict[str, set[int]] = {}
    for exchange in replayed:
        trials.setdefault(probe_family(exchange.id), set()).add(_trial(exchange.id))
    return [
        replace(f, trials=max((len(trials.get(p, ())) for p in f.probes), default=1) or 1)
        for f in merge_trials([per_trial[t] for t in sorted(per_trial)])
    ]


def _trial(exchange_id: str) -> int:
    """The trial an exchange belongs to (``stop_list#3``: 3; no mark: 1)."""
    _, _, mark = exchange_id.partition(TRIAL_MARK)
    return int(mark) if mark.isdigit() else 1


def judge_catalogue(
    runner: Runner, checks: Sequence[Check], *, clients: bool = True
) -> list[CheckResult]:
    """Every check in ``checks`` judged on ``runner``'s exchanges, as a run judges them:
    ``client_reads_exchange`` last, on the replay of every exchange (left out when
    ``clients`` is False: the tests that walk the catalogue per defect, where it costs a
    replay each and another check names the defect)."""
    results = [runner.evaluate(c) for c in checks if c.id != CLIENT_CHECK]
    own = [c for c in checks if c.id == CLIENT_CHECK]
    if clients and own:
        replayed = replay(runner.exchanges)
        results.append(client_result(own[0], replayed, results, runner.exchanges, Redactor([])))
    return results
