"""Verdicts, severities and findings: what checks conclude, passed on by every layer above.

Nothing here knows about HTTP, pytest or HTML.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.wire._exchange import Exchange
    from conformance.wire._redact import Redactor


TRIAL_MARK = "#"  # trial 2 of probe "stop_list" is recorded as exchange "stop_list#2"
AGAIN_MARK = "_again"  # follow-ups of probe "tool_auto": "tool_auto_again", "tool_auto_again2"
_AGAIN = re.compile(re.escape(AGAIN_MARK) + r"\d*$")
_INDEX = re.compile(r"\[\d+\]")


def probe_family(exchange_id: str) -> str:
    """The probe family of an exchange: its probe without the trial mark and without the
    re-ask suffix (``tool_auto_again2#3`` -> ``tool_auto``). How many trials or re-asks a
    sampling model needed is luck, never part of what a finding is."""
    return _AGAIN.sub("", exchange_id.split(TRIAL_MARK, 1)[0])


def path_family(json_path: str) -> str:
    """A JSON path with its array indices as ``[*]`` (``$.choices[2].finish_reason`` ->
    ``$.choices[*].finish_reason``): which choice or token showed a defect is luck too."""
    return _INDEX.sub("[*]", json_path)


def finding_key(check_id: str, json_path: str, kind: str) -> tuple[str, str, str]:
    """The one definition of a finding's identity: (check, JSON path with its indices
    as ``[*]``, kind of failure). Not the probe, not the trial, not the exchange: the same
    defect shown by another probe, trial or re-ask is the same finding (results.json lists
    the probes that showed it). The baseline, ``compare``, exploration and the engine's
    merging of trials all match on this."""
    return (check_id, path_family(json_path), kind)


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
    # The probe families (:func:`probe_family`) whose exchanges showed it, first first: one
    # finding per identity, shown by any number of probes. Not part of its identity.
    probes: tuple[str, ...] = field(default=(), compare=False)
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
    def identity(self) -> tuple[str, str, str]:
        """(check, JSON path, kind of failure) (:func:`finding_key`): the same defect has
        the same identity whatever values the answer carried and whichever probe, trial or
        re-ask showed it. Findings with the same identity are one problem seen several
        times (the same violation in 40 chunks of a stream is one finding with a count of
        40; in three probes, one finding listing the three)."""
        return finding_key(self.check_id, self.json_path, self.failure)

    @property
    def shown_by(self) -> tuple[str, ...]:
        """The probe families that showed it (its exchange's, when not merged yet)."""
        if self.probes:
            return self.probes
        return (probe_family(self.exchange.id),) if self.exchange is not None else ()

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
            "probes": list(self.shown_by),
        }


def group_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Collapse findings with the same ``identity``: first example kept, counts added,
    the probes that showed them listed."""
    grouped: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        key = finding.identity
        seen = grouped.get(key)
        if seen is None:
            grouped[key] = replace(finding, probes=finding.shown_by)
        else:
            grouped[key] = replace(
                seen, count=seen.count + finding.count, probes=_union(seen.probes, finding)
            )
    return list(grouped.values())


def merge_trials(per_trial: Sequence[Iterable[Finding]]) -> list[Finding]:
    """One finding per identity across trials (any number of them), the first trial's
    example kept, counts added, ``seen`` the number of trials that showed it and
    ``probes`` every probe family that did. ``trials`` is left to the caller."""
    merged: dict[tuple[str, str, str], Finding] = {}
    for findings in per_trial:
        for finding in group_findings(findings):
            earlier = merged.get(finding.identity)
            merged[finding.identity] = (
                replace(finding, seen=1)
                if earlier is None
                else replace(
                    earlier,
                    count=earlier.count + finding.count,
                    seen=earlier.seen + 1,
                    probes=_union(earlier.probes, finding),
                )
            )
    return list(merged.values())


def _union(probes: tuple[str, ...], finding: Finding) -> tuple[str, ...]:
    return probes + tuple(p for p in finding.shown_by if p not in probes)
