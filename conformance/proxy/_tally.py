"""Observed exchanges judged one by one, findings accumulated into a run's results.

Every registered check that judges one exchange (``Check.any_exchange``) judges each exchange
through exploration's ``Judge`` (the list schemathesis's extension runs, not a copy). A check's
verdict over the traffic: FAIL or WARN when any exchange broke it, PASS when some exchange
exercised it and none broke it, SKIP "not provoked" when no exchange did. An exchange the
network or the upstream's infrastructure spoiled (429/502/503/504, cut short) is counted as
inconclusive and judged by nothing; with no exchange judged at all, every check is ERROR
(nothing can be concluded: exit code 3).

Memory is bounded whatever the traffic: per check a few counters and one finding per
distinct problem (its first example); the exchanges kept as evidence are at most
``EVIDENCE_EXCHANGES``, cut to what results.json keeps of a body and a stream, and with their
prompts and completions removed unless bodies are kept (``private``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from conformance.checks import Check, NotApplicable, NotProvoked, Unsupported
from conformance.checks._model import Finding, Severity, Verdict, group_findings
from conformance.contract._spec import Contract
from conformance.engine._faults import inconclusive
from conformance.engine._result import CheckResult, Usage
from conformance.explore._judge import Judge
from conformance.proxy._private import features_of, private
from conformance.run._results import RunInfo, build
from conformance.wire._exchange import EVIDENCE_BODY_LIMIT, EVIDENCE_EVENTS_LIMIT, Exchange
from conformance.wire._redact import Redactor

EVIDENCE_EXCHANGES = 64  # exchanges kept as examples of findings; later ones are counted
ERROR_CHECKS = ("error_body_shape",)  # what judges a valid request's 4xx (as schemathesis's)


def no_replay(exchanges: Sequence[Exchange]) -> list[CheckResult]:
    """No client replay (``--no-clients``, and the tests that judge checks only)."""
    del exchanges
    return []


def replay_clients(exchanges: Sequence[Exchange]) -> list[CheckResult]:
    """The client replay (issue 18) on exchanges just judged: every tested client reads
    these bytes (``clients.replay``), and what breaks one is ``client_reads_exchange``'s
    finding (``engine/_clients.client_result``, as a run judges it). The one call site:
    ``Tally.add_batch`` calls it with every batch of judged exchanges; a tally merges the
    batches' results (``_merge_replayed``). Every break is named here (the traffic's other
    findings are kept per check, not per exchange, so none is linked to it)."""
    from conformance.checks import get_check
    from conformance.clients import replay
    from conformance.clients._impact import CLIENT_CHECK
    from conformance.engine._clients import client_result

    check = get_check(CLIENT_CHECK)
    return [client_result(check, replay(exchanges), [], exchanges, Redactor([]))]


def _merge_replayed(earlier: CheckResult | None, later: CheckResult) -> CheckResult:
    """One result of ``client_reads_exchange`` over every batch replayed so far: its
    findings grouped (each kept once, counted), the worst verdict of the batches."""
    if earlier is None:
        return later
    worst = max((earlier, later), key=lambda r: _REPLAY_ORDER.index(r.verdict))
    findings = group_findings([*earlier.findings, *later.findings])
    exchanges = [*earlier.exchanges, *later.exchanges][:EVIDENCE_EXCHANGES]
    return replace(worst, findings=findings, exchanges=exchanges)


# which batch's verdict the merged result takes: a break anywhere (WARN) first
_REPLAY_ORDER = (Verdict.SKIP, Verdict.PASS, Verdict.ERROR, Verdict.WARN)


@dataclass
class _CheckTally:
    check: Check
    judged: int = 0
    provoked: int = 0
    unsupported: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    findings: dict[tuple[str, str], Finding] = field(default_factory=dict)


@dataclass
class Observed:
    """What the traffic was: counts by model and by feature used."""

    source: str
    exchanges: int = 0
    judged: int = 0
    inconclusive: int = 0
    other_requests: int = 0
    unreadable: list[str] = field(default_factory=list)
    models: Counter[str] = field(default_factory=Counter)
    features: Counter[str] = field(default_factory=Counter)

    def to_dict(self, *, bodies_kept: bool) -> dict[str, Any]:
        return {
            "source": self.source,
            "exchanges": self.exchanges,
            "judged": self.judged,
            "inconclusive": self.inconclusive,
            "other_requests": self.other_requests,
            "unreadable": list(self.unreadable),
            "models": dict(self.models.most_common()),
            "features": dict(self.features.most_common()),
            "bodies_kept": bodies_kept,
        }


class Tally:
    """Judges exchanges as they complete (thread-safe) and makes results.json data of them."""

    def __init__(
        self,
        contract: Contract,
        *,
        upstream: str,
        source: str,
        keep_bodies: bool = False,
        replay: Callable[[Sequence[Exchange]], list[CheckResult]] = no_replay,
    ) -> None:
        self.contract = contract
        self.upstream = upstream
        self.keep_bodies = keep_bodies
        self.observed = Observed(source=source)
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._started = time.perf_counter()
        self._judge = Judge(contract, "", api_key_configured=True)
        self._checks = {c.id: _CheckTally(c) for c in self._judge.checks}
        self._evidence: dict[str, Exchange] = {}
        self._errors: Counter[str] = Counter()
        self._usage = Usage()
        self._replay = replay
        self._replayed: dict[str, CheckResult] = {}
        self._lock = threading.Lock()

    def other(self) -> None:
        """A request that is not a chat completion was forwarded (not judged)."""
        with self._lock:
            self.observed.other_requests += 1

    def unreadable(self, line: str) -> None:
        with self._lock:
            self.observed.unreadable.append(line)

    def add_batch(self, exchanges: Sequence[tuple[Exchange, Redactor]]) -> None:
        """Judge each exchange, then hand the batch to the client replay."""
        judged = [e for e, redact in exchanges if self.add(e, redact)]
        if judged:
            for result in self._replay(judged):
                with self._lock:
                    earlier = self._replayed.get(result.check.id)
                    self._replayed[result.check.id] = _merge_replayed(earlier, result)

    def add(self, exchange: Exchange, redact: Redactor | None = None) -> bool:
        """Judge one exchange (``redact``: its key, for what the checks quote, as the engine
        redacts a finding); True when it could be judged."""
        body = exchange.request.body
        with self._lock:
            self.observed.exchanges += 1
            if isinstance(body, dict):
                model = body.get("model")
                self.observed.models[model if isinstance(model, str) else "(no model)"] += 1
            self.observed.features.update(features_of(body))
        why = inconclusive(exchange) or exchange.too_deep()
        if why is not None:
            return self._not_judged(why.split(":", 1)[0])
        status = exchange.status or 0
        invalid = not self.contract.validator("ChatCompletionRequest").is_valid(body)
        outcomes = []
        try:
            for check, found in self._judge.outcomes(exchange, invalid=invalid or status >= 400):
                if status >= 400 and not invalid and check.id not in ERROR_CHECKS:
                    continue  # a valid request refused: only its error body is judged
                outcomes.append((check, found))
        except RecursionError:
            return self._not_judged("the answer is nested too deeply to judge")
        except Exception as exc:  # a long-running proxy outlives a bug in one check
            return self._not_judged(f"a check failed on this exchange: {type(exc).__name__}")
        redact = redact or Redactor([])
        with self._lock:
            self.observed.judged += 1
            self._count_usage(exchange)
            for check, found in outcomes:
                self._record(self._checks[check.id], exchange, found, redact)
        exchange.forget()
        return True

    def _not_judged(self, why: str) -> bool:
        with self._lock:
            self.observed.inconclusive += 1
            self._errors[why] += 1
        return False

    def _count_usage(self, exchange: Exchange) -> None:
        usage = exchange.usage() if exchange.ok else None
        if usage is None:
            self._usage.unreported += 1 if exchange.ok else 0
            return
        self._usage.prompt += usage[0]
        self._usage.completion += usage[1]

    def _record(
        self,
        tally: _CheckTally,
        exchange: Exchange,
        found: list[Finding] | NotApplicable,
        redact: Redactor,
    ) -> None:
        tally.judged += 1
        if isinstance(found, NotApplicable):
            if isinstance(found, Unsupported):
                tally.unsupported += 1
            elif not isinstance(found, NotProvoked):
                return  # not this kind of exchange: not counted as judged by it
            tally.reasons[str(found).split("\n", 1)[0][:200]] += 1
            return
        tally.provoked += 1
        seen: set[tuple[str, str]] = set()
        for finding in found:
            key = (finding.json_path, finding.failure)
            earlier = tally.findings.get(key)
            if earlier is None:
                kept = self._keep(exchange)
                tally.findings[key] = replace(finding.redacted(redact), exchange=kept)
            else:
                tally.findings[key] = replace(
                    earlier,
                    count=earlier.count + finding.count,
                    seen=earlier.seen + (key not in seen),
                )
            seen.add(key)

    def _keep(self, exchange: Exchange) -> Exchange | None:
        """The exchange as evidence (cut, and private unless bodies are kept), or None when
        enough are kept already."""
        if exchange.id in self._evidence:
            return self._evidence[exchange.id]
        if len(self._evidence) >= EVIDENCE_EXCHANGES:
            return None
        kept = exchange if self.keep_bodies else private(exchange)
        kept = _cut(kept)
        self._evidence[exchange.id] = kept
        return kept

    def check_results(self) -> list[CheckResult]:
        """Each check's verdict over the traffic so far (see the module's docstring)."""
        with self._lock:
            out = [self._result(t) for t in self._checks.values()]
            out += list(self._replayed.values())
        return out

    def _result(self, tally: _CheckTally) -> CheckResult:
        check = tally.check
        findings = [replace(f, trials=tally.provoked) for f in tally.findings.values()]
        reason = ""
        if findings:
            verdict = Verdict.FAIL if check.severity is Severity.MUST else Verdict.WARN
        elif tally.provoked:
            verdict = Verdict.PASS
        elif self.observed.judged == 0:
            verdict = Verdict.ERROR
            reason = (
                "nothing could be concluded: "
                + "; ".join(f"{why} ({n})" for why, n in self._errors.most_common(3))
                if self.observed.inconclusive
                else "no chat-completions exchange observed"
            )
        else:
            verdict = Verdict.SKIP
            reason = _not_provoked(tally, self.observed.judged)
        return CheckResult(
            check=check,
            verdict=verdict,
            findings=findings,
            exchanges=[f.exchange for f in findings if f.exchange is not None][:1],
            reason=reason,
            unsupported=verdict is Verdict.SKIP and tally.unsupported > 0 and not tally.provoked,
            trials=max(tally.judged, 1),
            provoked=tally.provoked,
        )

    def results(self, *, partial: bool = False, notes: Sequence[str] = ()) -> dict[str, Any]:
        """results.json's data, built by the run's builder (the same format as a run)."""
        results = self.check_results()
        with self._lock:
            models = [m for m, _ in self.observed.models.most_common(3)]
            info = RunInfo(
                base_url=self.upstream,
                model=", ".join(models) if models else "(none observed)",
                profile=self.contract.profile,
                spec_title=self.contract.title,
                spec_version=self.contract.version,
                spec_sha256=self.contract.sha256,
                started_at=self.started_at,
                duration_s=time.perf_counter() - self._started,
                partial=partial,
                notes=[*notes, *self.observed.unreadable[:20]],
            )
            exchanges = list(self._evidence.values())
            observed = self.observed.to_dict(bodies_kept=self.keep_bodies)
            usage = replace(self._usage)
            requests = self.observed.exchanges
        return build(
            info,
            results,
            exchanges=exchanges,
            requests_sent=requests,
            usage=usage,
            observed=observed,
        )


def new_tally(
    profile: str, upstream: str, source: str, keep_bodies: bool, clients: bool = True
) -> Tally:
    """A tally under ``profile``'s contract (a module-level factory: a judging process
    builds its own, see ``_judging.Judging``), with the client replay unless ``clients`` is
    false."""
    return Tally(
        Contract.load(None, profile=profile),
        upstream=upstream,
        source=source,
        keep_bodies=keep_bodies,
        replay=replay_clients if clients else no_replay,
    )


def _not_provoked(tally: _CheckTally, judged: int) -> str:
    if tally.unsupported and not tally.reasons:
        return f"unsupported in {tally.unsupported} observed exchanges"
    if not tally.judged:
        return f"not provoked: none of the {judged} observed exchanges was of its kind"
    top = "; ".join(f"{why} ({n})" for why, n in tally.reasons.most_common(2))
    return f"not provoked in {tally.judged} observed exchanges" + (f": {top}" if top else "")


def _cut(exchange: Exchange) -> Exchange:
    """The evidence a report shows of ``exchange``: its first 64 KiB and 200 events."""
    cut = replace(exchange)
    if len(cut.body) > EVIDENCE_BODY_LIMIT:
        cut.body = cut.body[:EVIDENCE_BODY_LIMIT]
        cut.body_truncated = True
    cut.events = cut.events[:EVIDENCE_EVENTS_LIMIT]
    return cut
