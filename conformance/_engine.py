"""Send each probe once, then judge every selected check on the recorded exchanges.

No pytest and no HTML here: the plugin calls :class:`Runner` and renders what it returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from conformance._budget import Budget, exchange_tokens
from conformance._client import ChatClient, Endpoint
from conformance._exchange import Exchange
from conformance._faults import Fault, classify
from conformance._model import Finding, Severity, Verdict, group_findings
from conformance._ratelimit import RateLimiter
from conformance._redact import Redactor
from conformance._retry import RETRY_STATUSES, RetryPolicy, not_retried, status_reason
from conformance._spec import Contract
from conformance.checks import Check, CheckContext, NotApplicable, Unsupported, get_probe

RATE_LIMITED = 429
# Bodies under this size keep their parse for the whole run (parsed once however many checks
# judge them); a larger one (a hostile endpoint's: an answer to these probes is a few KB) is
# parsed once per check that judges it and then dropped: parsed, 8 MB of JSON take ~80 MB.
KEEP_PARSED_BELOW = 1024 * 1024


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

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.check.to_dict(),
            "title": self.check.title,
            "verdict": self.verdict.value,
            "reason": self.reason,
            "unsupported": self.unsupported,
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


class Runner:
    """Holds the endpoint, the contract and the exchanges recorded so far (one per probe)."""

    def __init__(
        self,
        endpoint: Endpoint,
        contract: Contract,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        concurrency: int = 8,
        budget: Budget | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.contract = contract
        self.concurrency = max(1, concurrency)
        self.budget = budget if budget is not None else Budget()
        self.retry = retry if retry is not None else RetryPolicy()
        self.limiter = limiter
        self.observer = observer if observer is not None else Observer()
        self._transport = transport
        self._redact = Redactor([endpoint.api_key])
        self._exchanges: dict[str, Exchange] = {}
        self.requests_sent = 0
        self.stopped_by: str | None = None  # why the budget stopped the run, if it did

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self._exchanges.values())

    def exchange(self, probe_id: str) -> Exchange | None:
        return self._exchanges.get(probe_id)

    def fetch(self, probe_ids: Iterable[str]) -> list[Exchange]:
        """Send every probe not sent yet (concurrently) and return their exchanges.

        A probe with ``after`` is sent once those probes are answered; they are sent too
        when not sent yet.
        """
        wanted = [p for p in _with_prerequisites(probe_ids) if p not in self._exchanges]
        if wanted:
            asyncio.run(self._fetch(wanted))
        return [self._exchanges[p] for p in dict.fromkeys(probe_ids) if p in self._exchanges]

    async def _fetch(self, probe_ids: list[str]) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        def admit() -> str | None:
            refused = self.budget.admit()
            if refused is not None:
                self.stopped_by = refused
            return refused

        client = ChatClient(
            self.endpoint,
            transport=self._transport,
            retry=self.retry,
            limiter=self.limiter,
            admit=admit,
        )
        answered = {p: asyncio.Event() for p in probe_ids}
        async with client:

            async def one(probe_id: str) -> None:
                try:
                    await send(probe_id)
                finally:
                    answered[probe_id].set()

            async def send(probe_id: str) -> None:
                probe = get_probe(probe_id)
                for earlier in probe.after:  # waited for outside the gate: no deadlock
                    if earlier in answered:
                        await answered[earlier].wait()
                if probe.needs_key and not self.endpoint.api_key:
                    return
                async with gate:
                    body = probe.body(self.endpoint.model)
                    exchange = await client.chat(
                        probe_id,
                        body,
                        auth=probe.auth,
                        content=probe.content,
                        params=probe.query,
                    )
                    if exchange.attempts:
                        self.budget.charge(exchange)  # parses the body for its usage
                    self._exchanges[probe_id] = exchange
                    self.observer.request_done(exchange, exchange_tokens(exchange))
                    self._forget_huge([exchange])  # after the last reader of its usage

            sendable = [p for p in probe_ids if self.endpoint.api_key or not get_probe(p).needs_key]
            self.observer.requests_planned(len(sendable))
            try:
                await asyncio.gather(*(one(p) for p in probe_ids))
            finally:
                self.requests_sent += client.requests_sent

    def evaluate(self, check: Check) -> CheckResult:
        """Judge ``check`` on the exchanges of its probes, fetching any not sent yet."""
        started = time.perf_counter()
        self.fetch(check.probes)
        findings: list[Finding] = []
        judged: list[Exchange] = []
        skipped: list[str] = []
        errors: list[str] = []
        unsupported = False
        for probe_id in check.probes:
            probe = get_probe(probe_id)
            exchange = self._exchanges.get(probe_id)
            if exchange is None:
                skipped.append(
                    f"{probe_id}: no API key is configured, so there is nothing to compare "
                    "a missing or wrong key against"
                    if probe.needs_key
                    else f"{probe_id}: not sent"
                )
                continue
            judged.append(exchange)
            if exchange.error is not None:
                errors.append(f"{probe_id}: {exchange.error}")
                continue
            if exchange.status in RETRY_STATUSES:
                errors.append(f"{probe_id}: {_gave_up(exchange)}; nothing can be concluded")
                continue
            too_deep = exchange.too_deep()
            if too_deep is not None:
                errors.append(f"{probe_id}: {too_deep}")
                continue
            ctx = CheckContext(
                contract=self.contract,
                model=self.endpoint.model,
                api_key_configured=bool(self.endpoint.api_key),
                probe=probe,
                peers={p: self._exchanges[p] for p in check.probes if p in self._exchanges},
            )
            try:
                for finding in check.func(exchange, ctx):
                    findings.append(
                        replace(
                            finding,
                            check_id=check.id,
                            severity=check.severity,
                            exchange=exchange,
                        )
                    )
            except Unsupported as why:
                unsupported = True
                skipped.append(f"{probe_id}: unsupported: {why}")
            except NotApplicable as why:
                skipped.append(f"{probe_id}: {why}")
            except RecursionError:  # a hostile payload nested deep inside a JSON string
                errors.append(f"{probe_id}: the answer is nested too deeply to judge")
            finally:
                self._forget_huge(ctx.peers.values())
        # Redacted here, once, for every renderer: what a check quotes was decoded.
        grouped = [self._redact.finding(f) for f in group_findings(findings)]
        verdict, reason = _verdict(check, grouped, judged, skipped, errors)
        result = CheckResult(
            check=check,
            verdict=verdict,
            findings=grouped,
            exchanges=judged,
            reason=self._redact.text(reason),
            duration_s=time.perf_counter() - started,
            unsupported=unsupported and verdict is Verdict.SKIP,
        )
        self.observer.check_done(result)
        return result

    def _forget_huge(self, exchanges: Iterable[Exchange]) -> None:
        """Drop the parses of bodies over ``KEEP_PARSED_BELOW`` bytes once judged."""
        for exchange in exchanges:
            if len(exchange.body) >= KEEP_PARSED_BELOW:
                exchange.forget()

    def usage(self) -> Usage:
        """Tokens spent so far: reported usage, estimated where an exchange had none."""
        return Usage(
            prompt=self.budget.prompt_tokens,
            completion=self.budget.completion_tokens,
            unreported=self.budget.estimated,
        )

    def faults(self) -> list[Fault]:
        """What the network or the endpoint's infrastructure did to the run, per exchange."""
        out = [classify(e) for e in self._exchanges.values()]
        return [f for f in out if f is not None]

    def areas(self, checks: Iterable[Check]) -> dict[str, dict[str, int]]:
        """Checks, requests (retries included) and tokens per area. A probe shared by checks
        of several areas is counted once, in the area of the first check that needed it."""
        out: dict[str, dict[str, int]] = {}
        counted: set[str] = set()
        for check in checks:
            row = out.setdefault(check.area, {"checks": 0, "requests": 0, "tokens": 0})
            row["checks"] += 1
            for probe_id in check.probes:
                exchange = self._exchanges.get(probe_id)
                if exchange is None or probe_id in counted:
                    continue
                counted.add(probe_id)
                row["requests"] += exchange.attempts
                row["tokens"] += exchange_tokens(exchange)
        return out


def _with_prerequisites(probe_ids: Iterable[str]) -> list[str]:
    """``probe_ids`` with every probe they must be sent after, prerequisites first."""
    out: dict[str, None] = {}

    def add(probe_id: str) -> None:
        if probe_id in out:
            return
        for earlier in get_probe(probe_id).after:
            add(earlier)
        out[probe_id] = None

    for probe_id in probe_ids:
        add(probe_id)
    return list(out)


def _gave_up(exchange: Exchange) -> str:
    assert exchange.status is not None  # noqa: S101 - only called with a status
    what = "rate limited" if exchange.status == RATE_LIMITED else "server unavailable"
    page = " (an HTML error page)" if "html" in exchange.content_type else ""
    tries = f" after {exchange.attempts} attempts" if exchange.attempts > 1 else ""
    why = f"{what}: {status_reason(exchange.status)}{page}{tries}"
    stopped = not_retried(exchange.retries)
    if stopped is not None:
        why += f" ({stopped})"
    return why


def _verdict(
    check: Check,
    findings: list[Finding],
    judged: list[Exchange],
    skipped: list[str],
    errors: list[str],
) -> tuple[Verdict, str]:
    if findings:
        verdict = Verdict.FAIL if check.severity is Severity.MUST else Verdict.WARN
        return verdict, "; ".join(errors)
    if errors:
        return Verdict.ERROR, "; ".join(errors)
    if skipped and len(skipped) >= len(check.probes):
        return Verdict.SKIP, "; ".join(skipped)
    if not judged:
        return Verdict.SKIP, "no exchange to judge"
    return Verdict.PASS, "; ".join(skipped)
