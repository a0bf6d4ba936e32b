"""The verdict of ``client_reads_exchange``: the client replay's breaks that no other
finding names, judged after every other check (``clients._impact``)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from conformance.checks import Check, probe_of
from conformance.checks._model import Finding, Verdict, group_findings
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
    findings = _over_trials(group_findings(findings), replayed)
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
    """One finding per probe for the same break in several trials of it (``probe#2``...),
    saying in how many of the probe's replayed trials it was seen, as the engine's are."""
    trials: dict[str, int] = {}
    for exchange in replayed:
        trials[probe_of(exchange.id)] = trials.get(probe_of(exchange.id), 0) + 1
    merged: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        probe = probe_of(finding.exchange.id) if finding.exchange is not None else ""
        key = (probe, finding.json_path, finding.failure)
        seen = merged.get(key)
        if seen is None:
            merged[key] = replace(finding, seen=1, trials=trials.get(probe, 1))
        else:
            merged[key] = replace(seen, count=seen.count + finding.count, seen=seen.seen + 1)
    return list(merged.values())


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
