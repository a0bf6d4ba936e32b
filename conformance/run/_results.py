"""The outcome of a run as data: ``results.json`` and the exit code.

The fields are documented in ``docs/results-schema.json``; tests validate against it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from conformance._version import __version__
from conformance.checks._model import Verdict
from conformance.clients import Replay
from conformance.clients._impact import impact, readiness
from conformance.engine._result import CheckResult, Usage
from conformance.wire._exchange import Exchange
from conformance.wire._latency import figures as latency_figures

SCHEMA_VERSION = 1

EXIT_OK = 0
EXIT_NONCONFORMANT = 1
EXIT_USAGE = 2
EXIT_INCONCLUSIVE = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C (SIGTERM too, here)


@dataclass
class RunInfo:
    """What the run was pointed at and how long it took."""

    base_url: str
    model: str
    profile: str
    spec_title: str
    spec_version: str
    spec_sha256: str
    started_at: str
    duration_s: float = 0.0
    embedded: bool = False  # True when the suite ran against the embedded reference server
    server_mode: str | None = None  # the embedded server's mode ("toy" or "model")
    partial: bool = False
    notes: list[str] = field(default_factory=list)


def public_url(url: str) -> str:
    """The URL without credentials, query or fragment: safe to print and store."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def outcome(results: Sequence[CheckResult]) -> tuple[str, int]:
    """The run's overall verdict and exit code: FAIL wins, then ERROR, else conformant."""
    verdicts = {r.verdict for r in results}
    if Verdict.FAIL in verdicts:
        return "nonconformant", EXIT_NONCONFORMANT
    if Verdict.ERROR in verdicts or not results:
        return "inconclusive", EXIT_INCONCLUSIVE
    return "conformant", EXIT_OK


class Explored(Protocol):
    """What results.json needs of an exploration (``explore._explorer.Exploration``)."""

    @property
    def requests(self) -> int: ...
    @property
    def prompt_tokens(self) -> int: ...
    @property
    def completion_tokens(self) -> int: ...
    @property
    def exchanges(self) -> list[Exchange]: ...
    def to_dict(self) -> dict[str, Any]: ...


class Gating(Protocol):
    """What fails the run (``_baseline.Gate``): its record and the exit code it decides."""

    def decide(self, checks: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], int]: ...


def _phase(requests: int, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "requests": requests,
        "tokens": {"prompt": prompt, "completion": completion, "total": prompt + completion},
    }


def build(
    info: RunInfo,
    results: Sequence[CheckResult],
    *,
    exchanges: Sequence[Exchange],
    requests_sent: int,
    usage: Usage,
    areas: dict[str, dict[str, int]] | None = None,
    faults: Sequence[Any] = (),
    network: dict[str, Any] | None = None,
    explored: Explored | None = None,
    gate: Gating | None = None,
    stopped_exit: int | None = None,
    observed: Mapping[str, Any] | None = None,
    replay: Replay | None = None,
) -> dict[str, Any]:
    """The whole of results.json, assembled here and only here: nothing is patched after.

    ``requests_sent`` and ``usage`` are the run's (exploration's included: they share the
    budget); ``explored`` splits them into phases. ``gate`` decides the exit code, unless the
    run was stopped (``stopped_exit``: 130 when interrupted, 2 or 3 after the preflight),
    which is the process's exit code whatever was judged. ``observed``: traffic judged by
    ``conformance proxy`` or ``conformance judge`` (counts by model and feature) instead of
    probes.
    """
    verdict, exit_code = outcome(results)
    totals = Counter(r.verdict.value for r in results)
    checks = [_with_impact(r, replay) for r in results]
    gated = None
    if gate is not None:
        gated, exit_code = gate.decide(checks)
    if stopped_exit is not None:
        exit_code = stopped_exit
    tokens = usage.to_dict()
    spent = (explored.prompt_tokens, explored.completion_tokens) if explored else (0, 0)
    phases = {
        "checks": _phase(
            requests_sent, tokens["prompt"] - spent[0], tokens["completion"] - spent[1]
        )
    }
    recorded = [e.to_dict() for e in exchanges]
    if explored is not None:
        phases["explore"] = _phase(explored.requests, *spent)
        known = {e.id for e in exchanges}
        recorded += [e.to_dict() for e in explored.exchanges if e.id not in known]
    data = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "conformance", "version": __version__},
        "endpoint": {
            "base_url": public_url(info.base_url),
            "embedded": info.embedded,
            **({"server_mode": info.server_mode} if info.embedded and info.server_mode else {}),
        },
        "model": info.model,
        "profile": info.profile,
        "spec": {
            "title": info.spec_title,
            "version": info.spec_version,
            "sha256": info.spec_sha256,
        },
        "started_at": info.started_at,
        "duration_s": round(info.duration_s, 3),
        "partial": info.partial,
        "notes": list(info.notes),
        "verdict": verdict,
        "exit_code": exit_code,
        "totals": {v.value: totals.get(v.value, 0) for v in Verdict},
        "requests": requests_sent + (explored.requests if explored else 0),
        "tokens": tokens,
        "areas": dict(areas or {}),
        "faults": [f.to_dict() for f in faults],
        "network": dict(network or {}),
        "latency": latency_figures(exchanges),  # figures, never verdicts
        "checks": checks,
        "exchanges": recorded,
        "phases": phases,
        "explore": explored.to_dict() if explored else None,
        "clients": clients_record(replay, exchanges),
    }
    if gated is not None:
        data["gate"] = gated
    if observed is not None:
        data["observed"] = dict(observed)
    return data


def _with_impact(result: CheckResult, replay: Replay | None) -> dict[str, Any]:
    """The check's record, each finding with which tested clients it breaks."""
    record = result.to_dict()
    if replay is not None:
        for finding, entry in zip(result.findings, record["findings"], strict=True):
            entry["impact"] = impact(finding, replay).to_dict()
    return record


def clients_record(replay: Replay | None, exchanges: Sequence[Exchange]) -> dict[str, Any]:
    """results.json's ``clients``: each tested client's readiness and every reading."""
    if replay is None:
        return {"replayed": False, "readiness": {}, "replay": None}
    return {
        "replayed": True,
        "readiness": readiness(replay, exchanges),
        "replay": replay.to_dict(),
    }


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON so that a crash never leaves a half-written file."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    write_text_atomic(path, text + "\n")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it into place: whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        # mkstemp makes the file 0600; results.json is as readable as report.html beside it
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
