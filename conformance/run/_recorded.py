"""Recorded provider answers judged twice: by the checks that can judge any exchange (the
single-exchange path exploration uses, ``explore._judge.Judge``) and by the tested clients
(``clients``), with every client break linked to the findings that name it.

What the README's table of recordings is made of (``bench/bench_replay.py --recorded``), and
what tests/clients holds to: each client break is named by a finding, and no finding on an
answer every client reads is said to break one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from conformance.checks import get_check
from conformance.checks._model import Finding, Severity
from conformance.clients import ClientRun, Replay, replay
from conformance.clients._impact import CLIENT_CHECK, break_finding, impact, unnamed
from conformance.clients._recordings import recordings
from conformance.contract._spec import Contract
from conformance.explore._judge import Judge
from conformance.wire._exchange import Exchange


@dataclass
class Judged:
    """One recording: what the checks found, what the clients did, and how they link."""

    exchange: Exchange
    findings: list[Finding]  # the checks' and client_reads_exchange's (unnamed breaks)
    breaks: list[ClientRun]

    @property
    def name(self) -> str:
        return self.exchange.id

    def row(self, replayed: Replay) -> dict[str, Any]:
        return {
            "recording": self.name,
            "breaks": sorted({f"{r.client} ({r.mode}): {r.what()}" for r in self.breaks}),
            "must": sorted({_named(f) for f in self.findings if f.severity is Severity.MUST}),
            "should": sorted({_named(f) for f in self.findings if f.severity is Severity.SHOULD}),
            "breaking": sorted({_named(f) for f in self.findings if impact(f, replayed).breaks}),
        }


def _named(finding: Finding) -> str:
    return f"{finding.check_id}: {finding.failure}"


def judge_recordings(
    directory: Path, *, profile: str = "openai", clients: Sequence[str] | None = None
) -> tuple[list[Judged], Replay]:
    """Every recording in ``directory`` judged by the checks and read by the clients."""
    exchanges = recordings(directory)
    judge = Judge(Contract.load(profile=profile), "recorded", api_key_configured=True)
    replayed = replay(exchanges) if clients is None else replay(exchanges, clients=clients)
    check = get_check(CLIENT_CHECK)
    out = []
    for exchange in exchanges:
        found = [f for _, f in judge.valid(exchange)]
        mine = [r for r in replayed.breaks() if r.exchange == exchange.id]
        extra = [
            replace(break_finding(r, exchange), check_id=check.id, severity=check.severity)
            for r in unnamed(Replay(replayed.clients, mine, [exchange.id]), found)
        ]
        out.append(Judged(exchange, found + extra, mine))
    return out, replayed
