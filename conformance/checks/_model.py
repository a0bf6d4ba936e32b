"""Verdicts, severities and findings: what checks conclude, passed on by every layer above.

Nothing here knows about HTTP, pytest or HTML.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.wire._exchange import Exchange
    from conformance.wire._redact import Redactor


class Severity(enum.StrEnum):
    """How much a broken promise weighs: MUST fails the run, SHOULD warns."""

    MUST = "MUST"
    SHOULD = "SHOULD"


class Verdict(enum.StrEnum):
    """The outcome of one check against one endpoint."""

    PASS = "PASS"  # noqa: S105 - a verdict, not a password: the endpoint keeps the promise
    FAIL = "FAIL"  # a MUST is broken
    WARN = "WARN"  # a SHOULD is broken
    SKIP = "SKIP"  # not applicable here, or the endpoint declares the feature unsupported
    ERROR = "ERROR"  # inconclusive: transport failure, timeout, rate limit; never nonconformance


@dataclass(frozen=True)
class Finding:
    """One way an exchange broke a promise, as data.

    A check yields findings with ``title``, ``json_path`` and the expected/actual pair;
    the engine fills in ``check_id``, ``severity`` and ``exchange`` and groups repeats
    (the same kind of failure at the same JSON path) into one finding with a ``count``.

    The title is for people and may quote the answer ("answered with 503"). What identifies
    a finding across runs (the baseline, ``compare``, exploration's deduplication, the
    report's grouping) is :attr:`identity`: the check, the probe, the JSON path and the
    ``kind`` of failure, never a value from the response. A finding whose title is a fixed
    text may leave ``kind`` empty: its title is its kind. A title built from values must
    come with a ``kind`` (tests/checks/test_identity.py holds every check to that).
    """

    title: str
    json_path: str = "$"
    expected: Any = None
    actual: Any = None
    schema_path: str | None = None
    chunk_index: int | None = None  # which SSE event showed it, for stream findings
    check_id: str = ""
    severity: Severity = Severity.MUST
    exchange: Exchange | None = field(default=None, compare=False, repr=False)
    count: int = 1
    # The kind of failure, stable across runs ("": the title, a fixed text). Not compared:
    # two findings are equal when they say the same; ``identity`` is what groups them.
    kind: str = field(default="", compare=False)
    # Repeated trials (--trials): in how many of the trials its probe was judged in this
    # finding was seen ("3 of 5"). Not part of its identity: the same problem at any rate.
    seen: int = 1
    trials: int = 1
    # A leniency clients survive, found by a MUST check (a coercible value accepted, a
    # profile's relaxation): weighed as a SHOULD, so it warns. Set by the check.
    should: bool = field(default=False, compare=False)

    def weighed(self, check_severity: Severity) -> Severity:
        """This finding's severity under a check of ``check_severity``: a SHOULD when the
        check marked it ``should``, else the check's."""
        return Severity.SHOULD if self.should else check_severity

    @property
    def failure(self) -> str:
        """The kind of failure: ``kind``, or the title when that is a fixed text."""
        return self.kind or self.title

    @property
    def identity(self) -> tuple[str, str, str, str]:
        """(check, exchange, JSON path, kind of failure): the same defect has the same
        identity whatever values the answer carried. Findings with the same identity are
        one problem seen several times (in one exchange: the same violation in 40 chunks of
        a stream is one finding with a count of 40)."""
        exchange_id = self.exchange.id if self.exchange is not None else ""
        return (self.check_id, exchange_id, self.json_path, self.failure)

    def redacted(self, redactor: Redactor) -> Finding:
        """This finding with every string it renders redacted: what a check quotes was
        decoded (JSON escapes undone, tool-call deltas joined), so the raw bytes' redaction
        missed it."""
        if not redactor:
            return self
        return replace(
            self,
            title=redactor.text(self.title),
            json_path=redactor.text(self.json_path),
            schema_path=None if self.schema_path is None else redactor.text(self.schema_path),
            expected=redactor.json(self.expected),
            actual=redactor.json(self.actual),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "kind": self.failure,
            "title": self.title,
            "severity": self.severity.value,
            "json_path": self.json_path,
            "schema_path": self.schema_path,
            "expected": self.expected,
            "actual": self.actual,
            "chunk_index": self.chunk_index,
            "count": self.count,
            "seen": self.seen,
            "trials": self.trials,
            "exchange": self.exchange.id if self.exchange is not None else None,
        }


def group_findings(findings: list[Finding]) -> list[Finding]:
    """Collapse findings with the same ``identity``: first example kept, counts added."""
    grouped: dict[tuple[str, str, str, str], Finding] = {}
    for finding in findings:
        key = finding.identity
        seen = grouped.get(key)
        if seen is None:
            grouped[key] = finding
        else:
            grouped[key] = _with_count(seen, seen.count + finding.count)
    return list(grouped.values())


def _with_count(finding: Finding, count: int) -> Finding:
    return replace(finding, count=count)
