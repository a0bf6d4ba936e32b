"""Property-based exploration: generate requests from the contract, send them through the
``ChatClient``, judge every answer, keep one finding per distinct failure with its smallest
example, and shrink that example, all within the run's ``Budget``.

No pytest and no HTML here: the plugin turns an :class:`Exploration` into test results.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx

from conformance.checks import get_probe
from conformance.contract._spec import Contract
from conformance.engine._budget import Budget
from conformance.engine._faults import inconclusive
from conformance.engine._result import Observer
from conformance.explore import _properties as props
from conformance.explore._exploration import (
    Discovery,
    Exploration,
    Key,
    PhaseStats,
    _key,
    body_size,
)
from conformance.explore._judge import Judge, Judged
from conformance.explore._mutate import DELETE, Mutation, invalid_requests
from conformance.explore._options import INVALID, VALID, ExploreOptions
from conformance.explore._shape import REQUEST, RequestFactory, cohere
from conformance.wire._client import ChatClient, Endpoint
from conformance.wire._exchange import Exchange
from conformance.wire._ratelimit import RateLimiter
from conformance.wire._redact import Redactor
from conformance.wire._retry import RetryPolicy

Change = tuple[str, tuple[Any, ...], str]  # ("drop" or "set", path, the new value)


class Explorer:
    """Explore one endpoint: ``run()`` once, then read the :class:`Exploration`."""

    def __init__(
        self,
        endpoint: Endpoint,
        contract: Contract,
        *,
        budget: Budget | None = None,
        options: ExploreOptions | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        observer: Observer | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        """``retry`` and ``limiter``: the run's, so generated requests wait and retry as the
        probes do (None: no retries, no spacing)."""
        self.endpoint = endpoint
        self.retry = retry
        self.limiter = limiter
        self.observer = observer if observer is not None else Observer()
        self.contract = contract
        self.budget = budget if budget is not None else Budget()
        self.options = options if options is not None else ExploreOptions()
        self._transport = transport
        self._redact = Redactor([endpoint.api_key])
        self._judge = Judge(contract, endpoint.model, api_key_configured=bool(endpoint.api_key))
        self._validator = contract.validator(REQUEST)
        self._ids = iter(range(1, 10**9))

    def cases(
        self, seed: int
    ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], Mutation]]]:
        """The generated valid and invalid requests for ``seed`` (nothing is sent)."""
        options = self.options
        factory = RequestFactory(self.contract, self.endpoint.model, options.shaping, seed)
        valid = factory.valid(options.examples) if VALID in options.phases else []
        invalid = invalid_requests(factory, options.examples) if INVALID in options.phases else []
        return valid, invalid

    def run(self) -> Exploration:
        started = time.perf_counter()
        seed = self.options.seed if self.options.seed is not None else secrets.randbelow(2**32)
        exploration = Exploration(seed=seed, options=self.options)
        valid, invalid = self.cases(seed)
        asyncio.run(self._run(exploration, valid, invalid))
        exploration.duration_s = time.perf_counter() - started
        return exploration

    async def _run(
        self,
        exploration: Exploration,
        valid: list[dict[str, Any]],
        invalid: list[tuple[dict[str, Any], Mutation]],
    ) -> None:
        client = ChatClient(
            self.endpoint,
            transport=self._transport,
            retry=self.retry,
            limiter=self.limiter,
            admit=self._admit,
        )
        async with client:
            self._client = client
            self._exploration = exploration
            gate = asyncio.Semaphore(max(1, self.options.concurrency))
            if VALID in self.options.phases:
                stats = exploration.stats[VALID] = PhaseStats(planned=len(valid))
                self.observer.requests_planned(len(valid))

                async def one_valid(body: dict[str, Any]) -> None:
                    async with gate:
                        judged = await self._case(body, stats, VALID)
                    if judged is not None:
                        self._record(judged, body, None)

                await asyncio.gather(*(one_valid(b) for b in valid))
                await self._shrink_all(VALID, stats)
            if INVALID in self.options.phases:
                stats = exploration.stats[INVALID] = PhaseStats(planned=len(invalid))
                self.observer.requests_planned(2 * len(invalid))  # each with its follow-up

                async def one_invalid(body: dict[str, Any], mutation: Mutation) -> None:
                    async with gate:
                        judged = await self._case(body, stats, INVALID)
                    if judged is not None:
                        self._record(judged, body, mutation)

                await asyncio.gather(*(one_invalid(b, m) for b, m in invalid))
                await self._shrink_all(INVALID, stats)

    def _admit(self) -> str | None:
        """Asked by the client before each attempt, retries included."""
        refused = self.budget.admit()
        if refused is not None:
            self._exploration.stopped_by = refused
        return refused

    async def _send(self, body: Any, stats: PhaseStats, name: str) -> Exchange | None:
        """Send one request if the budget allows; None (and the reason kept) when not."""
        if self._exploration.stopped_by is not None:
            return None
        exchange = await self._client.chat(f"explore-{name}-{next(self._ids)}", body)
        if exchange.attempts == 0:  # the budget refused it: _admit kept the reason
            return None
        before = (self.budget.prompt_tokens, self.budget.completion_tokens)
        self.budget.charge(exchange)
        stats.requests += exchange.attempts
        prompt = self.budget.prompt_tokens - before[0]
        completion = self.budget.completion_tokens - before[1]
        stats.prompt_tokens += prompt
        stats.completion_tokens += completion
        self.observer.request_done(exchange, prompt + completion)
        return exchange

    async def _case(
        self, body: dict[str, Any], stats: PhaseStats, kind: str
    ) -> list[Judged] | None:
        """One generated request of ``kind`` (VALID or INVALID), judged; an invalid one is
        followed by a plain request (recovery). None: the budget stopped it; []: the answer
        was inconclusive."""
        exchange = await self._send(body, stats, kind)
        if exchange is None:
            return None
        stats.sent += 1
        if inconclusive(exchange) is not None:
            stats.inconclusive += 1
            return []
        if kind == VALID:
            return self._judge.valid(exchange)
        judged = self._judge.invalid(exchange)
        plain = get_probe("chat").body(self.endpoint.model)
        follow = await self._send(plain, stats, "recover")
        if follow is not None and inconclusive(follow) is None:
            judged += self._judge.recovery(follow)
        return judged

    def _record(self, judged: list[Judged], body: Any, mutation: Mutation | None) -> None:
        """Add what one case showed: a new discovery, or a count (and maybe a smaller
        example) for one seen before."""
        index = {d.key: d for d in self._exploration.discoveries}
        seen: set[Key] = set()
        for property_id, judged_finding in judged:
            finding = judged_finding.redacted(self._redact)
            found = Discovery(property_id, finding, body, mutation)
            if found.key in seen:
                continue
            seen.add(found.key)
            known = index.get(found.key)
            if known is None:
                self._exploration.discoveries.append(found)
                index[found.key] = found
                continue
            known.count += 1
            if found.size < known.size:
                known.finding, known.body, known.mutation = finding, body, mutation

    async def _shrink_all(self, phase: str, stats: PhaseStats) -> None:
        mine = props.POSITIVE if phase == VALID else props.NEGATIVE
        for discovery in list(self._exploration.discoveries):
            if discovery.property_id in mine:
                await self._shrink(discovery, phase, stats)

    async def _shrink(self, discovery: Discovery, phase: str, stats: PhaseStats) -> None:
        """Greedy shrinking: drop a field or simplify a value, keep the change when the
        same failure still shows. Every try is a request, so a change that did not keep
        the failure is not tried again, and the caps bound the rest."""
        failed: set[Change] = set()
        spent = 0
        improved = True
        while improved:
            improved = False
            for change, candidate in self._candidates(discovery):
                if change in failed:
                    continue
                if (
                    spent >= self.options.shrink_cap
                    or stats.shrink_requests >= self.options.examples
                ):
                    return
                spent += 1
                stats.shrink_requests += 1
                self.observer.requests_planned(1 if phase == VALID else 2)
                judged = await self._try(candidate, phase, stats)
                if judged is None:
                    return
                match = next((f for p, f in judged if _key(p, f) == discovery.key), None)
                if match is None:
                    failed.add(change)
                    action, path, _ = change
                    if action == "drop" and len(path) == 1:
                        discovery.needed.add(str(path[0]))
                    continue
                discovery.body, discovery.finding = candidate, match
                discovery.shrunk = True
                discovery.shrink_steps += 1
                improved = True
                break

    async def _try(self, body: Any, phase: str, stats: PhaseStats) -> list[Judged] | None:
        before = stats.sent, stats.inconclusive
        judged = await self._case(body, stats, VALID if phase == VALID else INVALID)
        stats.sent, stats.inconclusive = before  # shrinking tries are not generated cases
        return judged

    def _candidates(self, discovery: Discovery) -> Iterator[tuple[Change, Any]]:
        """Smaller variants of the example that are still valid (or still break exactly the
        same rule), smallest change first."""
        body = discovery.body
        mutation = discovery.mutation
        protected: set[tuple[Any, ...]] = {("model",)}
        if mutation is not None:
            protected |= {mutation.path[:i] for i in range(1, len(mutation.path) + 1)}
        for change, variant in _smaller(body, protected):
            candidate = variant
            if mutation is None:
                candidate = cohere(variant, self.options.shaping)
                if self._validator.validate(candidate):
                    continue
            else:
                broken = self._validator.validate(candidate)
                if not broken or any(
                    not v.json_path.startswith(mutation.json_path) for v in broken
                ):
                    continue
                if mutation.value is not DELETE and _at(candidate, mutation.path) != mutation.value:
                    continue
            if body_size(candidate) < body_size(body):
                yield change, candidate


def _at(body: Any, path: tuple[Any, ...]) -> Any:
    node = body
    for step in path:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return DELETE
    return node


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) in ``node``, parents before children, breadth first."""
    queue = [(path, node)]
    while queue:
        where, value = queue.pop(0)
        if where:
            yield where, value
        if isinstance(value, dict):
            queue += [((*where, k), v) for k, v in value.items()]
        elif isinstance(value, list):
            queue += [((*where, i), v) for i, v in enumerate(value)]


def _smaller(body: Any, protected: set[tuple[Any, ...]]) -> Iterator[tuple[Change, Any]]:
    """(change, variant) of ``body`` with one field removed, one list item removed, or one
    value simplified (text emptied, a number made 0, 1, -1 or whole)."""
    entries = [(p, v) for p, v in _paths(body) if p not in protected]
    for path, _value in entries:
        parent = _at(body, path[:-1])
        if isinstance(parent, list) and len(parent) < 2:
            continue
        out = copy.deepcopy(body)
        holder = _at(out, path[:-1])
        del holder[path[-1]]
        yield ("drop", path, ""), out
    for path, value in entries:
        simpler: list[Any] = []
        if isinstance(value, str) and value:
            simpler = [""]
        elif isinstance(value, int) and not isinstance(value, bool) and value not in (0, 1):
            simpler = [0, 1, -1]
        elif isinstance(value, float):
            simpler = [0, 1, -1, round(value)]
        for replacement in simpler:
            out = copy.deepcopy(body)
            holder = _at(out, path[:-1])
            holder[path[-1]] = replacement
            yield ("set", path, repr(replacement)), out
