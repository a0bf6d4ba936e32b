"""Comparing endpoints: several ``results.json`` as one matrix of checks by endpoints.

Pure data; ``_compare_render`` turns a :class:`Matrix` into HTML or Markdown.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any
from urllib.parse import urlsplit

from conformance.report._causes import root_causes
from conformance.report._clients import readiness_of
from conformance.report._text import clipped, trial_rate
from conformance.run._baseline import MATCHED, finding_identity
from conformance.run._scores import AreaScore, all_checks, area_order, area_scores

# The states a cell can be in, best first; each has a short mark for text renderings.
STATUSES = {
    "pass": "PASS",
    "warn": "WARN",
    "fail": "FAIL",
    "unsupported": "unsupported",
    "skip": "not applicable",
    "inconclusive": "inconclusive",
    "not-run": "not run",
}
UNCONCLUDED = {"inconclusive", "not-run"}  # cells that say nothing about the endpoint
NOTE_VALUE = 200  # characters of an expected or actual value in a cell's note
GENERIC_DIRS = {"", ".", "reports", "report", "results", "out", "output"}


@dataclass
class Column:
    """One endpoint: one results.json."""

    label: str
    path: str
    base_url: str
    model: str
    profile: str
    spec_sha256: str
    started_at: str
    verdict: str
    totals: dict[str, int]
    embedded: bool = False
    outcome: str = ""  # why the run did not conclude (unreachable, interrupted...); "" if it did
    latency: dict[str, Any] = field(default_factory=dict)  # results.json's latency figures
    why: str = ""  # a run that ran no check: its notes, in full (key variable unset, model 404)
    report: str = ""  # the run's report.html relative to the page ("" when there is none)
    causes: list[str] = field(default_factory=list)  # root causes of its ERRORs, one line each
    # Client name -> readiness entry (results.json's clients.readiness): READY, LIMITED...
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Cell:
    status: str  # a key of STATUSES
    verdict: str | None  # as in results.json; None when the check did not run
    note: str = ""  # the findings, or why SKIP / ERROR; empty when there is nothing to say
    # What failed, by identity (check, probe, JSON path, kind): the same defect with other
    # values in its title is the same finding in both columns.
    found: frozenset[tuple[str, ...]] = frozenset()
    cause: str = ""  # the run's root cause that left it inconclusive (said once, not per cell)

    @property
    def label(self) -> str:
        return STATUSES[self.status]


@dataclass
class Row:
    check_id: str
    title: str
    area: str
    severity: str
    spec: str
    cells: list[Cell]
    silent: tuple[int, ...] = ()  # columns of runs that ran no check: no difference of theirs

    @property
    def differs(self) -> bool:
        """The endpoints that concluded something about the check concluded differently:
        a real difference (an inconclusive or missing column is no evidence either way)."""
        shown = [
            cell
            for i, cell in enumerate(self.cells)
            if i not in self.silent and cell.status not in UNCONCLUDED
        ]
        return len({(cell.status, cell.found) for cell in shown}) > 1

    @property
    def uncertain(self) -> bool:
        """No real difference, but some column could not conclude (ERROR, not run) where
        another did: set apart from the differences, never counted with them."""
        shown = [cell for i, cell in enumerate(self.cells) if i not in self.silent]
        return not self.differs and len({(cell.status, cell.found) for cell in shown}) > 1

    @property
    def group(self) -> int:
        """0: differs, 1: differs only through an inconclusive column, 2: the same."""
        return 0 if self.differs else 1 if self.uncertain else 2


@dataclass
class Matrix:
    columns: list[Column]
    rows: list[Row]  # rows that differ first; each part grouped by area in catalogue order
    areas: list[str]  # in catalogue order
    scores: dict[str, list[AreaScore]]  # per area, one score per column
    notes: list[str] = field(default_factory=list)  # caveats about comparing these runs


def cell_of(check: Mapping[str, Any] | None) -> Cell:
    """A check's outcome in one run as a cell (``None``: the run did not have it)."""
    if check is None:
        return Cell("not-run", None)
    verdict = str(check.get("verdict", ""))
    status = {
        "PASS": "pass",
        "WARN": "warn",
        "FAIL": "fail",
        "ERROR": "inconclusive",
        "SKIP": "unsupported" if check.get("unsupported") else "skip",
    }.get(verdict, "inconclusive")
    if status == "pass":
        return Cell(status, verdict)  # a PASS's reason is bookkeeping, not a difference
    findings = check.get("findings", [])
    lines = [finding_line(f) for f in findings]
    if check.get("reason"):
        lines.append(str(check["reason"]))
    found = frozenset(
        tuple(v for k, v in finding_identity(check, f).items() if k in MATCHED) for f in findings
    )
    return Cell(status, verdict, "\n".join(lines), found)


def finding_line(finding: Mapping[str, Any]) -> str:
    where = str(finding.get("exchange") or "")
    if finding.get("chunk_index") is not None:
        where += f", event {finding['chunk_index']}"
    count = f" (seen {finding['count']} times)" if finding.get("count", 1) > 1 else ""
    count += trial_rate(finding.get("seen", 1), finding.get("trials", 1))
    return (
        f"{finding.get('title', '')}{count} at {finding.get('json_path', '')}"
        + (f" ({where})" if where else "")
        + f": expected {clipped(finding.get('expected'), NOTE_VALUE)}, "
        f"actual {clipped(finding.get('actual'), NOTE_VALUE)}"
    )


def _host(base_url: str) -> str:
    parts = urlsplit(base_url)
    return parts.netloc or base_url


def labels(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Short unique column names: the report directory's name when the user chose one
    (``reports/openai/results.json`` -> ``openai``), else host and model."""
    by_dir = [PurePath(path).parent.name for path, _ in runs]
    if len(set(by_dir)) == len(by_dir) and not (set(by_dir) & GENERIC_DIRS):
        return by_dir
    by_host = [
        f"{_host(str(d.get('endpoint', {}).get('base_url', '')))} {d.get('model', '')}".strip()
        for _, d in runs
    ]
    if len(set(by_host)) == len(by_host):
        return by_host
    return [f"{i}: {name}" for i, name in enumerate(by_host, start=1)]


def _by_cause(cell: Cell, check_id: str, causes: Mapping[str, str]) -> Cell:
    """An inconclusive cell whose run met a root cause says the cause once, briefly, instead
    of repeating every exchange's message (the summary row lists the cause in full)."""
    if cell.status == "inconclusive" and check_id in causes:
        return Cell(cell.status, cell.verdict, "", cell.found, cause=causes[check_id])
    return cell


def report_link(path: str, page: Path | None) -> str:
    """The report.html beside a results.json, relative to the page ("" when missing)."""
    report = Path(path).with_name("report.html")
    if page is None or not report.is_file():
        return ""
    return os.path.relpath(report.resolve(), page.resolve().parent).replace(os.sep, "/")


def build_matrix(runs: Sequence[tuple[str, Mapping[str, Any]]], page: Path | None = None) -> Matrix:
    """The matrix of ``runs`` (``(path, results data)`` pairs, in column order); cells
    link to each run's report relative to ``page``, the file the matrix is written to."""
    names = labels(runs)
    columns = [
        Column(
            label=name,
            path=path,
            base_url=str(data.get("endpoint", {}).get("base_url", "")),
            model=str(data.get("model", "")),
            profile=str(data.get("profile", "")),
            spec_sha256=str(data.get("spec", {}).get("sha256", "")),
            started_at=str(data.get("started_at", "")),
            verdict=str(data.get("verdict", "")),
            totals=dict(data.get("totals", {})),
            embedded=bool(data.get("endpoint", {}).get("embedded")),
            outcome=run_outcome(data),
            latency=dict(data.get("latency") or {}),
            why="" if data.get("checks") else "; ".join(str(n) for n in data.get("notes") or []),
            report=report_link(path, page),
            causes=[cause.line() for cause in root_causes(data)],
            clients=readiness_of(data),
        )
        for name, (path, data) in zip(names, runs, strict=True)
    ]
    per_run = [{str(c.get("id")): c for c in all_checks(data)} for _, data in runs]
    silent = tuple(i for i, checks in enumerate(per_run) if not checks)
    per_cause = [
        {cid: f"{c.scope} {c.what}" for c in root_causes(data) for cid in c.checks.get("ERROR", [])}
        for _, data in runs
    ]
    union: dict[str, Mapping[str, Any]] = {}
    for checks in per_run:
        for check_id, check in checks.items():
            union.setdefault(check_id, check)
    rows = [
        Row(
            check_id=check_id,
            title=str(first.get("title", "")),
            area=str(first.get("area", "")),
            severity=str(first.get("severity", "")),
            spec=str(first.get("spec", "")),
            cells=[
                _by_cause(cell_of(checks.get(check_id)), check_id, causes)
                for checks, causes in zip(per_run, per_cause, strict=True)
            ],
            silent=silent,
        )
        for check_id, first in union.items()
    ]
    areas = area_order(union.values())
    rows.sort(key=lambda r: (r.group, areas.index(r.area)))  # stable: catalogue order
    scores: dict[str, list[AreaScore]] = {}
    for index, (_, data) in enumerate(runs):
        for score in area_scores(all_checks(data)):
            scores.setdefault(score.area, [AreaScore(score.area) for _ in runs])[index] = score
    for area in areas:
        scores.setdefault(area, [AreaScore(area) for _ in runs])
    return Matrix(columns=columns, rows=rows, areas=areas, scores=scores, notes=_notes(columns))


# The first words of the notes a run that did not conclude leaves (the preflight's, the
# matrix's stub), and the short state the comparison shows for each.
OUTCOMES = (
    ("cannot reach", "unreachable"),
    ("authentication rejected", "key rejected"),
    ("not run:", "not run"),
    ("the endpoint at", "refused (rate limited)"),
)


def run_outcome(data: Mapping[str, Any]) -> str:
    """A short state for a run that did not conclude ("" for one that did)."""
    network = data.get("network") or {}
    notes = [str(n) for n in data.get("notes") or []]
    if isinstance(network, Mapping) and network.get("interrupted"):
        return f"interrupted ({network['interrupted']})"
    if not data.get("checks"):
        for start, state in OUTCOMES:
            if any(n.startswith(start) for n in notes):
                return state
        return "no checks ran"
    return "partial" if data.get("partial") else ""


def _notes(columns: list[Column]) -> list[str]:
    notes = []
    if len({c.spec_sha256 for c in columns if c.spec_sha256}) > 1:
        notes.append(
            "the runs were checked against different OpenAPI documents (spec sha256 differs); "
            "a difference may come from the document, not the endpoint"
        )
    if len({c.profile for c in columns}) > 1:
        notes.append(
            "the runs used different profiles (strict / openai); openai relaxes the document "
            "where schemas/ERRATA.md says so"
        )
    return notes
