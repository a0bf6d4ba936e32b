"""Send each probe once, then judge every selected check on the recorded exchanges.

No pytest and no HTML here: the plugin calls :class:`Runner` and renders what it returns.
About 400 lines, one idea: the Runner's sending (trials, follow-ups built from answers, the
budget) and its judging share the exchanges it recorded; what it hands on is in ``_result``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from conformance.checks import (
    Check,
    CheckContext,
    NotApplicable,
    NotProvoked,
    Probe,
    Unsupported,
    get_probe,
    probe_of,
    trial_key,
)
from conformance.checks._model import (
    Finding,
    Severity,
    Verdict,
    group_findings,
    merge_trials,
)
from conformance.contract._spec import Contract
from conformance.engine._budget import Budget, exchange_tokens
from conformance.engine._evidence import (
    MAX_EXTRA_TRIALS,
    TARGET_RATE,
    UNPROVOKED_TRIALS,
    rate_bound,
    statement,
    worst_case_tokens,
)
from conformance.engine._faults import Fault, classify, inconclusive
from conformance.engine._result import CheckResult, Observer, Usage
from conformance.engine._shaping import Shaper
from conformance.wire._client import ChatClient, Endpoint
from conformance.wire._exchange import Exchange
from conformance.wire._ratelimit import RateLimiter
from conformance.wire._redact import Redactor
from conformance.wire._retry import RetryPolicy

# Bodies under this size keep their parse for the whole run (parsed once however many checks
# judge them); a larger one (a hostile endpoint's: an answer to these probes is a few KB) is
# parsed once per check that judges it and then dropped: parsed, 8 MB of JSON take ~80 MB.
KEEP_PARSED_BELOW = 1024 * 1024


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
        trials: int = 1,
        expect_auth: bool = False,
        evidence_tokens: int = 0,
    ) -> None:
        self.endpoint = endpoint
        self.contract = contract
        self.concurrency = max(1, concurrency)
        self.budget = budget if budget is not None else Budget()
        self.retry = retry if retry is not None else RetryPolicy()
        self.limiter = limiter
        self.observer = observer if observer is not None else Observer()
        self.trials = max(1, trials)  # sends of each sampled probe
        self.expect_auth = expect_auth  # an open endpoint FAILs the auth checks
        # tokens left for trials past --trials (engine/_evidence; 0: none). The run's default
        # is DEFAULT_EVIDENCE_TOKENS; a Runner built by hand samples only --trials.
        self.evidence_tokens = max(0, evidence_tokens)
        self._evidence_trials: dict[str, int] = {}  # check id -> trials judged (past the floor)
        self._transport = transport
        self._redact = Redactor([endpoint.api_key])
        self._shaper = Shaper(contract)  # bodies as sent: declared fields, the token cap
        self._exchanges: dict[str, Exchange] = {}  # by exchange id (probe id, trial mark)
        self._unneeded: dict[str, str] = {}  # follow-ups not sent: exchange id -> why
        self.requests_sent = 0
        self.stopped_by: str | None = None  # why the budget stopped the run, if it did

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self._exchanges.values())

    def exchange(self, probe_id: str) -> Exchange | None:
        return self._exchanges.get(probe_id)

    def trials_of(self, probe_id: str) -> int:
        """How many times ``probe_id`` is sent: ``trials`` if it is sampled, else once."""
        return self.trials if get_probe(probe_id).sampled else 1

    def keys(self, probe_id: str) -> list[str]:
        """The exchange ids of ``probe_id``, one per trial."""
        return [trial_key(probe_id, t) for t in range(1, self.trials_of(probe_id) + 1)]

    def fetch(self, probe_ids: Iterable[str]) -> list[Exchange]:
        """Send every probe not sent yet (concurrently, once per trial if sampled) and return
        the exchanges of the first trial.

        A probe with ``after`` is sent once those probes are answered (in the same trial);
        they are sent too when not sent yet.
        """
        wanted = [
            key
            for p in _with_prerequisites(probe_ids)
            for key in self.keys(p)
            if key not in self._exchanges and key not in self._unneeded
        ]
        alone = self._alone(wanted)
        rest = [key for key in wanted if key not in alone]
        if rest:
            asyncio.run(self._fetch(rest))
        if alone:
            asyncio.run(self._fetch(alone, concurrency=1))
        return [self._exchanges[p] for p in dict.fromkeys(probe_ids) if p in self._exchanges]

    def _earlier(self, probe: Probe, key: str) -> list[str]:
        """The exchange ids ``key`` (a trial of ``probe``) waits for: the same trial of each
        sampled ``after`` probe, the one exchange of a deterministic one."""
        trial = int(key.split("#", 1)[1]) if "#" in key else 1
        return [trial_key(p, trial if get_probe(p).sampled else 1) for p in probe.after]

    def _alone(self, keys: list[str]) -> list[str]:
        """Of ``keys``, the ``alone`` probes and the probes they are sent after, in order."""
        wanted = set(keys)
        out: dict[str, None] = {}
        for key in keys:
            probe = get_probe(probe_of(key))
            if probe.alone:
                out.update(dict.fromkeys(k for k in self._earlier(probe, key) if k in wanted))
                out[key] = None
        return list(out)

    async def _fetch(self, probe_ids: list[str], concurrency: int | None = None) -> None:
        gate = asyncio.Semaphore(concurrency or self.concurrency)

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

            async def send(key: str) -> None:
                probe = get_probe(probe_of(key))
                earlier = self._earlier(probe, key)
                for before in earlier:  # waited for outside the gate: no deadlock
                    if before in answered:
                        await answered[before].wait()
                if probe.needs_key and not self.endpoint.api_key:
                    return
                body = probe.body(self.endpoint.model)
                if probe.build is not None:
                    peers = {
                        probe_of(k): self._exchanges[k] for k in earlier if k in self._exchanges
                    }
                    built = probe.build(self.endpoint.model, peers)
                    if built is None:
                        self._unneeded[key] = "not needed: the earlier answer settled it"
                        return
                    body = built
                body = self._shaper.shape(probe, body)
                probe_id = key
                async with gate:
                    exchange = await client.chat(
                        probe_id,
                        body,
                        auth=probe.auth,
                        content=probe.content,
                        headers=probe.headers,
                        params=probe.query,
                    )
                    again = self._shaper.resend(probe, body, exchange)
                    if again is not None and probe.content is None:  # once, learned for good
                        self.budget.charge(exchange)
                        exchange = await client.chat(
                            probe_id,
                            again,
                            auth=probe.auth,
                            headers=probe.headers,
                            params=probe.query,
                        )
                    if exchange.attempts:
                        self.budget.charge(exchange)  # parses the body for its usage
                    self._exchanges[probe_id] = exchange
                    self.observer.request_done(exchange, exchange_tokens(exchange))
                    self._forget_huge([exchange])  # after the last reader of its usage

            sendable = [
                p
                for p in probe_ids
                if self.endpoint.api_key or not get_probe(probe_of(p)).needs_key
            ]
            self.observer.requests_planned(len(sendable))
            try:
                await asyncio.gather(*(one(p) for p in probe_ids))
            finally:
                self.requests_sent += client.requests_sent

    def evaluate(self, check: Check) -> CheckResult:
        """Judge ``check`` on the exchanges of its probes, fetching any not sent yet.

        With sampled probes the check is judged once per trial, each time on that trial's
        exchanges (a deterministic probe is judged in the first trial only); a finding seen
        in any trial counts, and says in how many of its trials it was seen. A sampled check
        that saw no violation may have had more trials (``gather_evidence``), and states the
        bound its samples support.
        """
        started = time.perf_counter()
        self.fetch(check.probes)
        trials = max((self.trials_of(p) for p in check.probes), default=1)
        tally = _Tally()
        for trial in range(1, trials + 1):
            tally.add(self._judge_trial(check, trial), first=trial == 1)
        for trial in range(trials + 1, self._evidence_trials.get(check.id, 0) + 1):
            tally.add(self._judge_trial(check, trial), first=False)
            trials = trial
        sampled = any(get_probe(p).sampled for p in check.probes)
        # Redacted here, once, for every renderer: what a check quotes was decoded.
        grouped = [f.redacted(self._redact) for f in self._merge(tally.per_trial, trials)]
        skipped = tally.skipped_any if tally.all_skipped else []
        verdict, reason = _verdict(
            check, grouped, tally.judged, skipped, tally.errors, all_skipped=tally.all_skipped
        )
        if verdict is Verdict.SKIP and tally.not_provoked and not tally.unsupported:
            times = f" in any of {trials} trials" if trials > 1 else ""
            reason = f"not provoked{times}: {reason}"
        bound = statement(tally.samples) if sampled and tally.samples and not grouped else ""
        if verdict is Verdict.PASS and bound:
            reason = f"{bound}; {reason}" if reason else bound
        result = CheckResult(
            check=check,
            verdict=verdict,
            findings=grouped,
            exchanges=tally.judged,
            reason=self._redact.text(reason),
            duration_s=time.perf_counter() - started,
            unsupported=tally.unsupported and verdict is Verdict.SKIP,
            trials=trials,
            provoked=tally.provoked,
            samples=tally.samples,
            bound=bound,
        )
        self.observer.check_done(result)
        return result

    def gather_evidence(self, checks: Iterable[Check]) -> None:
        """Trials past ``--trials`` for the sampled checks that saw no violation, while the
        evidence budget lasts (``engine/_evidence``): each round sends one more trial of the
        clean check whose samples are fewest (its bound the loosest) and whose next trial's
        worst case fits in what is left, until every bound is at most ``TARGET_RATE``. A
        check that no trial provoked (a model that called no tool under "auto") comes first,
        for at most ``UNPROVOKED_TRIALS`` more: provoking a behaviour once is worth more than
        tightening a bound. Order-independent: the checks' order does not decide which one
        gets the budget. ``evaluate`` then judges every trial sent."""
        if self.evidence_tokens <= 0:
            return
        tallies: dict[str, tuple[Check, _Tally, int]] = {}
        floors: dict[str, int] = {}
        for check in checks:
            if not any(get_probe(p).sampled for p in check.probes) or check.id in tallies:
                continue
            self.fetch(check.probes)
            trials = max(self.trials_of(p) for p in check.probes)
            tally = _Tally()
            for trial in range(1, trials + 1):
                tally.add(self._judge_trial(check, trial), first=trial == 1)
            tallies[check.id] = (check, tally, trials)
            floors[check.id] = trials
        blocked: set[str] = set()
        while True:
            open_ = [
                (tally.samples, check.id)
                for check, tally, trials in tallies.values()
                if check.id not in blocked
                and trials < MAX_EXTRA_TRIALS
                and (
                    (tally.clean and rate_bound(tally.samples) > TARGET_RATE)
                    or (tally.unprovoked and trials < floors[check.id] + UNPROVOKED_TRIALS)
                )
            ]
            if not open_ or self.stopped_by is not None:
                return
            _, chosen = min(open_)
            check, tally, trials = tallies[chosen]
            if not self._one_more_trial(check, trials + 1):
                blocked.add(chosen)
                continue
            tally.add(self._judge_trial(check, trials + 1), first=False)
            tallies[chosen] = (check, tally, trials + 1)
            self._evidence_trials[chosen] = trials + 1

    def _one_more_trial(self, check: Check, trial: int) -> bool:
        """Send ``trial`` of the check's sampled probes (those not sent yet) when its worst
        case fits in the evidence budget; whether it was sent."""
        keys = [
            trial_key(p, trial)
            for p in _with_prerequisites(check.probes)
            if get_probe(p).sampled and trial_key(p, trial) not in self._exchanges
        ]
        cost = sum(
            worst_case_tokens(self._shaper.shape(get_probe(probe_of(k)), self._body(k)))
            for k in keys
        )
        if cost > self.evidence_tokens:
            return False
        if keys:
            asyncio.run(self._fetch(keys))
        self.evidence_tokens -= sum(
            exchange_tokens(self._exchanges[k]) for k in keys if k in self._exchanges
        )
        return self.stopped_by is None

    def _body(self, key: str) -> dict[str, Any]:
        return get_probe(probe_of(key)).body(self.endpoint.model)

    def _judge_trial(self, check: Check, trial: int) -> _Trial:
        """Judge ``check`` on the exchanges of one trial (sampled probes only after the first)."""
        out = _Trial()
        probes = [p for p in check.probes if trial == 1 or get_probe(p).sampled]
        out.probes = len(probes)
        peers = {
            p: self._exchanges[key]
            for p in check.probes
            if (key := trial_key(p, trial if get_probe(p).sampled else 1)) in self._exchanges
        }
        for probe_id in probes:
            probe = get_probe(probe_id)
            key = trial_key(probe_id, trial)
            exchange = self._exchanges.get(key)
            if exchange is None:
                out.skipped.append(
                    f"{probe_id}: no API key is configured, so there is nothing to compare "
                    "a missing or wrong key against"
                    if probe.needs_key
                    else f"{probe_id}: {self._unneeded.get(key, 'not sent')}"
                )
                continue
            out.judged.append(exchange)
            why = inconclusive(exchange, judges_error_events=check.judges_error_events)
            if why is not None:
                out.errors.append(f"{key}: {why}")
                continue
            too_deep = exchange.too_deep()
            if too_deep is not None:
                out.errors.append(f"{key}: {too_deep}")
                continue
            ctx = CheckContext(
                contract=self.contract,
                model=self.endpoint.model,
                api_key_configured=bool(self.endpoint.api_key),
                expect_auth=self.expect_auth,
                probe=probe,
                peers=peers,
            )
            try:
                for finding in check.func(exchange, ctx):
                    out.findings.append(
                        replace(
                            finding,
                            check_id=check.id,
                            severity=finding.weighed(check.severity),
                            exchange=exchange,
                        )
                    )
                out.observed = True
                out.samples += probe.sampled
            except NotProvoked as why:
                out.not_provoked = True
                out.skipped.append(f"{probe_id}: {why}")
            except Unsupported as why:
                out.unsupported = True
                out.skipped.append(f"{probe_id}: unsupported: {why}")
            except NotApplicable as why:
                out.skipped.append(f"{probe_id}: {why}")
            except RecursionError:  # a hostile payload nested deep inside a JSON string
                out.errors.append(f"{probe_id}: the answer is nested too deeply to judge")
            finally:
                self._forget_huge(peers.values())
        out.findings = group_findings(out.findings)
        if out.findings:
            out.observed = True
        return out

    def _merge(self, per_trial: list[list[Finding]], trials: int) -> list[Finding]:
        """One finding per identity across probes and trials (``merge_trials``), with
        ``trials`` the check's trials (the extra ones of ``gather_evidence`` included) when a
        probe that showed it is sampled, else 1."""
        return [
            replace(f, trials=trials if any(_sampled(p) for p in f.probes) else 1)
            for f in merge_trials(per_trial)
        ]

    def _forget_huge(self, exchanges: Iterable[Exchange]) -> None:
        """Drop the parses of bodies over ``KEEP_PARSED_BELOW`` bytes once judged, and all
        but the evidence of a body too costly to judge (``Exchange.shed``)."""
        for exchange in exchanges:
            if len(exchange.body) >= KEEP_PARSED_BELOW:
                exchange.forget()
                exchange.shed()

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
            probes = set(check.probes)  # every trial sent, those past --trials included
            for key in [k for k in self._exchanges if probe_of(k) in probes]:
                exchange = self._exchanges.get(key)
                if exchange is None or key in counted:
                    continue
                counted.add(key)
                row["requests"] += exchange.attempts
                row["tokens"] += exchange_tokens(exchange)
        return out


@dataclass
class _Trial:
    """What one trial of a check came to."""

    probes: int = 0  # probes judged in this trial
    findings: list[Finding] = field(default_factory=list)
    judged: list[Exchange] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    unsupported: bool = False
    not_provoked: bool = False
    observed: bool = False  # some exchange was judged without being skipped
    samples: int = 0  # exchanges of sampled probes judged without being skipped


@dataclass
class _Tally:
    """What the trials of one check came to, so far."""

    per_trial: list[list[Finding]] = field(default_factory=list)
    judged: list[Exchange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped_any: list[str] = field(default_factory=list)
    unsupported: bool = False
    provoked: int = 0
    all_skipped: bool = True
    not_provoked: bool = False
    samples: int = 0

    @property
    def clean(self) -> bool:
        """No violation and no error yet, and something was judged."""
        return not any(self.per_trial) and not self.errors and self.samples > 0

    @property
    def unprovoked(self) -> bool:
        """No violation, no error, nothing judged: every trial said "not provoked"."""
        return (
            not any(self.per_trial)
            and not self.errors
            and self.samples == 0
            and self.not_provoked
            and not self.unsupported
        )

    def add(self, outcome: _Trial, *, first: bool) -> None:
        self.per_trial.append(outcome.findings)
        self.judged += outcome.judged
        self.errors += outcome.errors
        self.unsupported = self.unsupported or outcome.unsupported
        if first or not self.skipped_any:
            self.skipped_any = outcome.skipped
        if outcome.observed:
            self.provoked += 1
        if not (outcome.skipped and len(outcome.skipped) >= outcome.probes):
            self.all_skipped = False
        self.not_provoked = self.not_provoked or outcome.not_provoked
        self.samples += outcome.samples


def _sampled(exchange_id: str) -> bool:
    return get_probe(probe_of(exchange_id)).sampled


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


def _verdict(
    check: Check,
    findings: list[Finding],
    judged: list[Exchange],
    skipped: list[str],
    errors: list[str],
    *,
    all_skipped: bool,
) -> tuple[Verdict, str]:
    if findings:
        must = any(f.severity is Severity.MUST for f in findings)
        return (Verdict.FAIL if must else Verdict.WARN), "; ".join(errors)
    if errors:
        return Verdict.ERROR, "; ".join(errors)
    if all_skipped:
        return Verdict.SKIP, "; ".join(skipped)
    if not judged:
        return Verdict.SKIP, "no exchange to judge"
    return Verdict.PASS, "; ".join(skipped)
