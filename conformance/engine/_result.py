"""What the engine hands on: a check's result, the tokens a run spent, and the observer told
what the runner does (for a progress display). Data only: the runner fills them in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from conformance.checks import Check
from conformance.checks._model import Finding, Verdict
from conformance.wire._exchange import Exchange


class Observer:
    """Told what the runner does, for a progress display; the default does nothing."""

    def checks_planned(self, count: int) -> None:
        """``count`` checks will be judged."""

    def requests_planned(self, count: int) -> None:
        """``count`` more requests are about to be sent."""

    def request_done(self, exchange: Exchange, tokens: int) -> None:
        """An exchange is recorded (``tokens``: its reported or estimated total)."""

    def check_done(self, result: CheckResult) -> None:
        """A check has its verdict."""


@dataclass
class CheckResult:
    """What one check concluded, with the findings and the exchanges it judged."""

    check: Check
    verdict: Verdict
    findings: list[Finding] = field(default_factory=list)
    exchanges: list[Exchange] = field(default_factory=list)
    reason: str = ""  # why SKIP or ERROR
    duration_s: float = 0.0
    unsupported: bool = False  # SKIP because the endpoint declared the feature unsupported
    trials: int = 1  # how many times its sampled probes were sent (1: none is sampled)
    provoked: int = 0  # trials in which some exchange exercised the behaviour judged
    samples: int = 0  # exchanges of sampled probes judged without a skip
    bound: str = ""  # "0 of N samples: rate below X% at 95%" when no violation was seen

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.check.to_dict(),
            "title": self.check.title,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "unsupported": self.unsupported,
            "trials": self.trials,
            "provoked": self.provoked,
            "samples": self.samples,
            "bound": self.bound,
            "duration_s": round(self.duration_s, 4),
            "findings": [f.to_dict() for f in self.findings],
            "exchanges": [e.id for e in self.exchanges],
        }


@dataclass
class Usage:
    """Tokens the run spent, from the endpoint's own ``usage`` where it reported one."""

    prompt: int = 0
    completion: int = 0
    unreported: int = 0  # successful exchanges that reported no usage (their tokens estimated)

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def to_dict(self) -> dict[str, int]:
        return {
            "prompt": self.prompt,
            "completion": self.completion,
            "total": self.total,
            "unreported_exchanges": self.unreported,
        }
