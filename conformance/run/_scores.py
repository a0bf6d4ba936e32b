"""Per-area compatibility scores, computed from ``results.json`` data.

Shared by the single-run report and the comparison page. A score never replaces the
individual results: it is ``PASS / (PASS + WARN + FAIL + ERROR)``. SKIP says nothing about
compatibility (counted, not scored); an ERROR is a check that should have concluded and did
not, so an area with ERRORs is never 100% and its label says how many were inconclusive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.explore._properties import AREA

VERDICTS = ("PASS", "WARN", "FAIL", "SKIP", "ERROR")
EXPLORATION = AREA  # the area of exploration's properties (generated requests): listed last
CONCLUDED = ("PASS", "WARN", "FAIL")  # the verdicts that say something about compatibility
SCORED = (*CONCLUDED, "ERROR")  # an inconclusive check keeps an area from its full score


@dataclass
class AreaScore:
    """The verdict counts of one area's checks and the score they make."""

    area: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))

    @property
    def judged(self) -> int:
        """The checks scored: those that concluded and those that should have (ERROR)."""
        return sum(self.counts[v] for v in SCORED)

    @property
    def score(self) -> float | None:
        """The share of scored checks that passed, or None when none was scored or none
        concluded (only ERROR: an inconclusive area has no score, not 0%)."""
        if self.judged == 0 or self.counts["ERROR"] == self.judged:
            return None
        return self.counts["PASS"] / self.judged

    def label(self) -> str:
        """``83% (5 of 6)``, ``50% (1 of 2, 1 ERROR)``, ``inconclusive (3 ERROR)`` when no
        check concluded, or ``n/a`` when none was scored."""
        errors = self.counts["ERROR"]
        if self.judged and errors == self.judged:
            return f"inconclusive ({errors} ERROR)"
        score = self.score
        if score is None:
            return "n/a"
        note = f", {errors} ERROR" if errors else ""
        return f"{round(score * 100)}% ({self.counts['PASS']} of {self.judged}{note})"


def area_order(checks: Iterable[Mapping[str, Any]]) -> list[str]:
    """Areas in the order their first check appears (the catalogue's order); exploration last."""
    areas = list(dict.fromkeys(str(c.get("area", "")) for c in checks))
    return [a for a in areas if a != EXPLORATION] + [a for a in areas if a == EXPLORATION]


def area_scores(checks: Iterable[Mapping[str, Any]]) -> list[AreaScore]:
    """One :class:`AreaScore` per area, in :func:`area_order`."""
    checks = list(checks)
    scores = {area: AreaScore(area) for area in area_order(checks)}
    for check in checks:
        verdict = str(check.get("verdict", ""))
        if verdict in VERDICTS:
            scores[str(check.get("area", ""))].counts[verdict] += 1
    return list(scores.values())


def all_checks(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The run's checks (exploration's included: they are checks of :data:`EXPLORATION`)."""
    return [dict(c) for c in data.get("checks", []) if isinstance(c, Mapping)]
