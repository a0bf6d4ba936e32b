"""What an exploration concluded, as data: per-phase counts, one discovery per distinct
failure with its smallest example, and the verdict of each exploration property.

The explorer (``_explorer``) fills these in; the session, the plugin and results.json read them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from conformance.checks import Check
from conformance.checks._model import Finding, Severity, Verdict
from conformance.engine._result import CheckResult
from conformance.explore import _properties as props
from conformance.explore._mutate import Mutation
from conformance.explore._options import INVALID, VALID, ExploreOptions
from conformance.wire._exchange import Exchange

Key = tuple[str, str, str, str]  # (property, check, JSON path, kind of failure)


@dataclass
class PhaseStats:
    """What one phase generated, sent and spent."""

    planned: int = 0  # cases generated
    sent: int = 0  # cases sent (an invalid case and its follow-up count once)
    requests: int = 0  # requests sent, shrinking included
    shrink_requests: int = 0
    inconclusive: int = 0  # cases answered by a fault (_faults.inconclusive): not judged
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "planned": self.planned,
            "sent": self.sent,
            "requests": self.requests,
            "shrink_requests": self.shrink_requests,
            "inconclusive": self.inconclusive,
            "tokens": {
                "prompt": self.prompt_tokens,
                "completion": self.completion_tokens,
                "total": self.prompt_tokens + self.completion_tokens,
            },
        }


@dataclass
class Discovery:
    """One distinct failure: its first finding, how many cases showed it, and the smallest
    example that shows it (shrunk when the budget allowed)."""

    property_id: str
    finding: Finding
    body: Any
    mutation: Mutation | None = None
    count: int = 1
    shrunk: bool = False
    shrink_steps: int = 0
    needed: set[str] = field(default_factory=set)  # fields whose removal lost the failure

    @property
    def key(self) -> Key:
        return _key(self.property_id, self.finding)

    @property
    def size(self) -> int:
        return body_size(self.body)

    def fields(self) -> list[str]:
        """The fields that trigger it. For an invalid request: the field it breaks. For a
        valid one: the optional fields left in the smallest example whose removal made the
        failure go away (all of them when it could not be shrunk)."""
        if self.mutation is not None:
            return [self.mutation.json_path]
        if not isinstance(self.body, dict):
            return []
        optional = [k for k in self.body if k not in ("model", "messages")]
        proven = [k for k in optional if k in self.needed]
        return proven if proven else optional

    def to_dict(self) -> dict[str, Any]:
        return {
            "property": self.property_id,
            **self.finding.to_dict(),
            "count": self.count,
            "fields": self.fields(),
            "mutation": None if self.mutation is None else self.mutation.describe(),
            "example": self.body,
            "shrunk": self.shrunk,
            "shrink_steps": self.shrink_steps,
        }


@dataclass
class Exploration:
    """Everything one exploration run concluded."""

    seed: int
    options: ExploreOptions
    stats: dict[str, PhaseStats] = field(default_factory=dict)
    discoveries: list[Discovery] = field(default_factory=list)
    stopped_by: str | None = None
    duration_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(s.requests for s in self.stats.values())

    @property
    def prompt_tokens(self) -> int:
        return sum(s.prompt_tokens for s in self.stats.values())

    @property
    def completion_tokens(self) -> int:
        return sum(s.completion_tokens for s in self.stats.values())

    @property
    def exchanges(self) -> list[Exchange]:
        """The evidence: the exchange of each discovery's smallest example."""
        seen: dict[str, Exchange] = {}
        for d in self.discoveries:
            if d.finding.exchange is not None:
                seen.setdefault(d.finding.exchange.id, d.finding.exchange)
        return list(seen.values())

    def result(self, check: Check) -> CheckResult:
        """The verdict of one exploration property, as a check result."""
        phase = VALID if check.id in props.POSITIVE else INVALID
        stats = self.stats.get(phase)
        found = [
            replace(d.finding, count=d.count) for d in self.discoveries if d.property_id == check.id
        ]
        exchanges = [f.exchange for f in found if f.exchange is not None]
        if stats is None:
            return CheckResult(check, Verdict.SKIP, reason=f"the {phase} phase was not run")
        done = stats.sent - stats.inconclusive
        reason = (
            f"{stats.sent} generated {phase} requests (seed {self.seed}, "
            f"{stats.requests} requests, {stats.prompt_tokens + stats.completion_tokens} tokens)"
        )
        if stats.inconclusive:
            reason += (
                f"; {stats.inconclusive} inconclusive (a transport failure, or a "
                "429/502/503/504 the retries did not get past)"
            )
        if self.stopped_by is not None:
            reason += f"; stopped early: {self.stopped_by}"
        mine = [d for d in self.discoveries if d.property_id == check.id and d.fields()]
        for d in mine[:5]:
            shown = "shrunk example" if d.shrunk else "smallest example"
            reason += f"; {d.finding.title}: {shown} triggered by {', '.join(d.fields())}"
        if len(mine) > 5:
            reason += f"; and {len(mine) - 5} more (results.json: explore.findings)"
        if found:
            must = any(f.severity is Severity.MUST for f in found)
            verdict = Verdict.FAIL if must else Verdict.WARN
        elif done <= 0:
            verdict = Verdict.ERROR
            reason = "no generated request was answered: " + reason
        else:
            verdict = Verdict.PASS
        return CheckResult(check, verdict, findings=found, exchanges=exchanges, reason=reason,
                           duration_s=self.duration_s)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        shaping = self.options.shaping
        return {
            "seed": self.seed,
            "examples": self.options.examples,
            "shaping": {
                "max_tokens": shaping.max_tokens,
                "n": shaping.n,
                "top_logprobs": shaping.top_logprobs,
                "array_items": shaping.array_items,
                "string_length": shaping.string_length,
            },
            "phases": {name: s.to_dict() for name, s in self.stats.items()},
            "stopped_by": self.stopped_by,
            "duration_s": round(self.duration_s, 3),
            "findings": [d.to_dict() for d in self.discoveries],
        }


def body_size(body: Any) -> int:
    return len(json.dumps(body, sort_keys=True, ensure_ascii=False))


def _key(property_id: str, finding: Finding) -> Key:
    """One distinct failure: the property and the finding's identity (``finding_key``: never
    the generated exchange, array indices as ``[*]``)."""
    return (property_id, *finding.identity)
