"""Many runs of the same endpoint(s) over time: when each check's verdict changed, and trends.

Pure data; ``_history_render`` turns a :class:`History` into one static page. Runs are
grouped into series by endpoint and model; within a series they are ordered by their
``started_at``. A change is a check whose verdict differs from the previous run's where both
runs concluded something about it (ERROR or a check not run is not a change: nothing was
learnt); a regression is a change to FAIL or WARN from something better.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance._errors import ConfigError
from conformance.run._load import read_results
from conformance.run._scores import all_checks

# How bad a verdict is, for telling a regression from a fix.
RANK = {"PASS": 0, "SKIP": 0, "WARN": 1, "FAIL": 2}
UNLEARNT = {"ERROR", None}  # nothing was concluded: no change is recorded through it


@dataclass
class Run:
    """One results.json in a series."""

    path: Path
    data: dict[str, Any]
    link: str = ""  # the run's report (or results.json), relative to the page

    @property
    def started_at(self) -> str:
        return str(self.data.get("started_at", ""))

    @property
    def verdicts(self) -> dict[str, str]:
        return {str(c.get("id")): str(c.get("verdict")) for c in all_checks(self.data)}


@dataclass(frozen=True)
class Change:
    """``check`` went from ``before`` to ``after`` on ``run`` (the run that showed it)."""

    check: str
    before: str
    after: str
    run: Run
    previous: Run

    @property
    def regression(self) -> bool:
        return RANK.get(self.after, 0) > RANK.get(self.before, 0)

    @property
    def fix(self) -> bool:
        return RANK.get(self.after, 0) < RANK.get(self.before, 0)


@dataclass
class Series:
    """The runs of one endpoint and model, oldest first."""

    base_url: str
    model: str
    runs: list[Run]
    changes: list[Change] = field(default_factory=list)  # newest first
    checks: list[str] = field(default_factory=list)  # every check seen, catalogue order

    @property
    def label(self) -> str:
        return f"{self.base_url} ({self.model})" if self.model else self.base_url

    def standing(self) -> list[Change]:
        """Regressions whose check still has the worse verdict in the newest run."""
        newest = self.runs[-1].verdicts
        seen: set[str] = set()
        out = []
        for change in self.changes:  # newest first: the latest change of each check
            if change.check in seen:
                continue
            seen.add(change.check)
            if change.regression and newest.get(change.check) == change.after:
                out.append(change)
        return out


@dataclass
class History:
    series: list[Series]

    def changes(self) -> list[Change]:
        """Every change of every series, newest run first (regressions before fixes)."""
        every = [c for s in self.series for c in s.changes]
        return sorted(every, key=lambda c: (c.run.started_at, c.regression), reverse=True)


def results_files(paths: Iterable[Path]) -> list[Path]:
    """Each path, or every ``results.json`` below a directory; a ``ConfigError`` if none."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            below = sorted(path.rglob("results.json"))
            if not below:
                raise ConfigError(
                    f"{str(path)!r} holds no results.json; pass the directories where "
                    "`conformance run` wrote its reports (or the results.json files)."
                )
            found += below
        else:
            found.append(path)
    return found


def load_history(paths: Sequence[Path], page: Path) -> History:
    """The runs in ``paths``, grouped by endpoint and model; links relative to ``page``."""
    groups: dict[tuple[str, str], list[Run]] = {}
    for path in results_files(paths):
        data = read_results(path)
        report = path.with_name("report.html")
        target = report if report.is_file() else path
        link = os.path.relpath(target.resolve(), page.resolve().parent).replace(os.sep, "/")
        endpoint = data.get("endpoint") or {}
        # The embedded server listens on a new port each run: its runs are one series.
        url = "embedded reference server" if endpoint.get("embedded") else endpoint.get("base_url")
        key = (str(url or ""), str(data.get("model", "")))
        groups.setdefault(key, []).append(Run(path, data, link))
    return History([series_of(url, model, runs) for (url, model), runs in groups.items()])


def series_of(base_url: str, model: str, runs: list[Run]) -> Series:
    """The series with its changes worked out (``runs`` in any order)."""
    ordered = sorted(runs, key=lambda r: r.started_at)
    checks: dict[str, None] = {}
    changes: list[Change] = []
    last: dict[str, tuple[str, Run]] = {}  # per check: the last concluded verdict, its run
    for run in ordered:
        for check, verdict in run.verdicts.items():
            checks.setdefault(check, None)
            if verdict in UNLEARNT:
                continue
            before = last.get(check)
            if before is not None and before[0] != verdict:
                changes.append(Change(check, before[0], verdict, run, before[1]))
            last[check] = (verdict, run)
    changes.reverse()
    return Series(base_url, model, ordered, changes, list(checks))


def trend(runs: Sequence[Run], key: str, stat: str = "p50") -> list[float | None]:
    """One latency figure per run (oldest first), None where a run has none."""
    out: list[float | None] = []
    for run in runs:
        figures = run.data.get("latency")
        value = figures.get(key) if isinstance(figures, Mapping) else None
        number = value.get(stat) if isinstance(value, Mapping) else None
        out.append(float(number) if isinstance(number, int | float) else None)
    return out


def tokens_trend(runs: Sequence[Run]) -> list[float | None]:
    out: list[float | None] = []
    for run in runs:
        tokens = run.data.get("tokens")
        total = tokens.get("total") if isinstance(tokens, Mapping) else None
        out.append(float(total) if isinstance(total, int | float) else None)
    return out
