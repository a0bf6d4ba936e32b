"""One run, from resolved settings to results: contract, endpoint (or the embedded
reference server), the runner, and the results gathered so far.

Shared by the CLI and the pytest plugin, so that both run the suite the same way.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from conformance.checks import Check
from conformance.clients import Replay, replay
from conformance.clients._impact import CLIENT_CHECK
from conformance.clients._replay import Warm
from conformance.contract._spec import Contract
from conformance.engine._budget import Budget
from conformance.engine._clients import client_result
from conformance.engine._engine import Runner
from conformance.engine._result import CheckResult, Observer
from conformance.explore import ExploreOptions
from conformance.run._baseline import Gate
from conformance.run._preflight import (
    listed_models,
    model_problem,
    not_found_problem,
    redirect_problem,
)
from conformance.run._results import (
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    RunInfo,
    build,
    public_url,
    write_json_atomic,
)
from conformance.run._settings import Settings
from conformance.wire._client import Endpoint
from conformance.wire._exchange import Exchange
from conformance.wire._ratelimit import RateLimiter
from conformance.wire._redact import Redactor
from conformance.wire._retry import RETRY_STATUSES, RetryPolicy, not_retried, status_reason

if TYPE_CHECKING:
    from conformance.explore._exploration import Exploration


@dataclass(frozen=True)
class PreflightStop:
    """Why the run stops after the preflight (one line), and the exit code."""

    message: str
    exit_code: int


class _Feeding(Observer):
    """The run's observer, and each exchange handed to the client runners when recorded."""

    def __init__(self, inner: Observer | None, warm: Warm) -> None:
        self.inner = inner if inner is not None else Observer()
        self.warm = warm

    def checks_planned(self, count: int) -> None:
        self.inner.checks_planned(count)

    def requests_planned(self, count: int) -> None:
        self.inner.requests_planned(count)

    def request_done(self, exchange: Exchange, tokens: int) -> None:
        self.inner.request_done(exchange, tokens)
        self.warm.feed(exchange)

    def check_done(self, result: CheckResult) -> None:
        self.inner.check_done(result)


class Session:
    """Use as a context manager: entering loads the contract and starts what is needed."""

    def __init__(
        self,
        settings: Settings,
        *,
        defects: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
        server_options: Mapping[str, Any] | None = None,
        observer: Observer | None = None,
        explore: ExploreOptions | None = None,
    ) -> None:
        """``server_options``: extra ``ServerConfig`` fields for the embedded server
        (faults, latency_s, chunk_delay_s, mode, seed); ``observer``: told of progress."""
        self.settings = settings
        self.defects = frozenset(defects)
        self.server_options = dict(server_options or {})
        self.observer = observer
        self.interrupted: str | None = None  # the signal that stopped the run, if one did
        self.preflight_exit: int | None = None  # the exit code of a stop after the preflight
        self._transport = transport
        self._stack = contextlib.ExitStack()
        self._started = time.perf_counter()
        self.results: list[CheckResult] = []
        self.notes: list[str] = []
        self.partial = False
        self.gate = Gate()  # what fails the run: --fail-on, --baseline (set by the CLI)
        self.explore_options = explore if explore is not None else ExploreOptions()
        self.exploration: Exploration | None = None  # set once exploration has run
        self._replay: Replay | None = None  # the client replay, once the checks are judged
        self._warm: Warm | None = None
        self.phase = "checks"  # what the suite runs: "checks", "explore" or "all" (CLI)
        self.contract: Contract
        self.endpoint: Endpoint
        self.runner: Runner

    def __enter__(self) -> Session:
        try:
            return self._enter()
        except BaseException:  # a broken spec, a port in use: end what was started
            self._stack.close()
            raise

    def _enter(self) -> Session:
        if self.settings.clients:  # the client runners start first: their clients load
            self._warm = Warm()  # while the contract loads and the checks are sent
            self._stack.callback(self._warm.close)
        self.contract = Contract.load(self.settings.spec, profile=self.settings.profile)
        if self.settings.embedded:
            from conformance.server import ServerConfig, serve_in_thread

            key = secrets.token_urlsafe(24)
            config = ServerConfig(
                api_key=key,
                profile=self.settings.profile,
                defects=self.defects,
                **self.server_options,
            )
            server = self._stack.enter_context(serve_in_thread(config))
            model = self.settings.model or config.models[0]
            self.endpoint = Endpoint(
                base_url=server.base_url,
                api_key=key,
                model=model,
                timeouts=self.settings.timeouts,
            )
        else:
            assert self.settings.base_url is not None  # noqa: S101 - embedded covers None
            self.endpoint = Endpoint(
                base_url=self.settings.base_url,
                api_key=self.settings.api_key,
                model=self.settings.model or "",
                timeouts=self.settings.timeouts,
                verify_tls=not self.settings.insecure,
                headers=self.settings.headers,
            )
        observer = self.observer
        if self._warm is not None:  # and read each answer as it comes
            observer = _Feeding(self.observer, self._warm)
        self.runner = Runner(
            self.endpoint,
            self.contract,
            transport=self._transport,
            concurrency=self.settings.concurrency,
            budget=Budget(self.settings.max_requests, self.settings.max_tokens),
            retry=RetryPolicy(retries=self.settings.retries, max_wait=self.settings.max_retry_wait),
            limiter=RateLimiter.parse(self.settings.rate_limit)
            if self.settings.rate_limit
            else None,
            observer=observer,
            trials=self.settings.trials,
            expect_auth=self.settings.expect_auth,
            evidence_tokens=self.settings.evidence_tokens,
        )
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stack.close()

    def preflight(self) -> str | None:
        """Send the plainest request once. A message when nothing else is worth trying."""
        stop = self.preflight_stop()
        return None if stop is None else stop.message

    def preflight_stop(self) -> PreflightStop | None:
        """``preflight``, with the exit code that goes with its message: 2 for a model the
        endpoint does not serve (the user's to fix), 3 for everything else."""
        exchange = self.runner.fetch(["chat"])[0]
        url = public_url(self.endpoint.chat_url())
        problem = self._first_problem(exchange, url)
        if problem is not None:
            return PreflightStop(problem, EXIT_INCONCLUSIVE)
        problem = redirect_problem(exchange, url)
        if problem is not None:
            return PreflightStop(problem, EXIT_INCONCLUSIVE)
        if exchange.status in (400, 404, 422):
            model = self.endpoint.model
            listed = listed_models(self.endpoint, self._transport)
            problem = model_problem(exchange, model, listed)
            if problem is not None:
                return PreflightStop(problem, EXIT_USAGE)
            problem = not_found_problem(exchange, url, model)
            if problem is not None:
                return PreflightStop(problem, EXIT_INCONCLUSIVE)
        return None

    def _first_problem(self, exchange: Exchange, url: str) -> str | None:
        """No answer, an answer that keeps asking us to go away, or the key refused."""
        if exchange.error is not None and exchange.status is None:
            # No HTTP answer at all. A fault after the status line (a cut or oversized body)
            # is a finding of its own: the run goes on.
            fix = _what_to_check(exchange.error)
            return f"cannot reach the endpoint at {url}: {exchange.error}. {fix}"
        if exchange.status in RETRY_STATUSES:
            # Every retry of the plainest request refused: the other probes would only
            # hammer an endpoint that is asking us to go away.
            tries = f" ({exchange.attempts} attempts)" if exchange.attempts > 1 else ""
            stopped = not_retried(exchange.retries)
            if stopped is not None:
                tries += f" ({stopped})"
            return (
                f"the endpoint at {url} kept answering {status_reason(exchange.status)}"
                f"{tries}: nothing can be concluded now. Wait and run again, or lower "
                "--concurrency or set --rate-limit."
            )
        if exchange.status in (401, 403) and self.endpoint.api_key:
            return (
                f"authentication rejected: {url} answered {exchange.status} to the API key "
                "given. Check --api-key (or CONFORMANCE_API_KEY / OPENAI_API_KEY)."
            )
        if exchange.status in (401, 403):
            # Every probe would be refused alike: that is a missing key, not the endpoint's
            # nonconformance.
            return (
                f"no API key: {url} answered {exchange.status} to a request without one. "
                "Set CONFORMANCE_API_KEY (or OPENAI_API_KEY), or pass --api-key."
            )
        return None

    def info(self) -> RunInfo:
        notes = list(self.notes)
        if self.interrupted is not None:
            notes.append(
                f"interrupted by {self.interrupted}: the results are those gathered until then"
            )
        stopped = self.runner.stopped_by
        if stopped is not None:
            notes.append(f"stopped early: {stopped}; checks that needed more requests are ERROR")
        explored = self.exploration
        if explored is not None and explored.stopped_by is not None:
            stopped = stopped or explored.stopped_by
            notes.append(
                f"exploration stopped early: {explored.stopped_by}; it judged what was sent"
            )
        return RunInfo(
            base_url=self.endpoint.base_url,
            model=self.endpoint.model,
            profile=self.contract.profile,
            spec_title=self.contract.title,
            spec_version=self.contract.version,
            spec_sha256=self.contract.sha256,
            started_at=self.started_at,
            duration_s=time.perf_counter() - self._started,
            embedded=self.settings.embedded,
            server_mode=self.server_options.get("mode", "toy") if self.settings.embedded else None,
            partial=self.partial or stopped is not None or self.interrupted is not None,
            notes=notes,
        )

    def stopped_exit(self) -> int | None:
        """The process's exit code when the run was stopped: 130 when interrupted, whatever
        was judged; after the preflight, 2 for a model not served, else 3."""
        if self.interrupted is not None:
            return EXIT_INTERRUPTED
        return self.preflight_exit

    def evaluate(self, check: Check) -> CheckResult:
        """Judge ``check``: by the runner, or (``client_reads_exchange``, judged after the
        others) on the client replay of every exchange recorded so far."""
        if check.id != CLIENT_CHECK:
            return self.runner.evaluate(check)
        self.runner.fetch(check.probes)
        result = client_result(
            check,
            self.client_replay(),
            self.results,
            self.runner.exchanges,
            Redactor([self.endpoint.api_key]),
        )
        if self.observer is not None:
            self.observer.check_done(result)
        return result

    def client_replay(self) -> Replay | None:
        """Every recorded exchange read by the tested clients (once, after the checks);
        None when the settings turn the replay off (``--no-clients``)."""
        if not self.settings.clients:
            return None
        if self._replay is None:
            self._replay = replay(self.runner.exchanges, warm=self._warm)
        return self._replay

    def results_data(self) -> dict[str, Any]:
        """results.json, built in one place (``_results.build``)."""
        return build(
            self.info(),
            self.results,
            exchanges=self.runner.exchanges,
            requests_sent=self.runner.requests_sent,
            usage=self.runner.usage(),
            areas=self.runner.areas(r.check for r in self.results),
            faults=self.runner.faults(),
            network=self.network(),
            explored=self.exploration,
            gate=self.gate,
            stopped_exit=self.stopped_exit(),
            replay=self.client_replay() if self.results else None,
        )

    def explore(self) -> Exploration:
        """Run the exploration once (generated requests, same budget as the checks)."""
        if self.exploration is None:
            from conformance.explore._explorer import Explorer

            options = self.explore_options
            if options.concurrency != self.runner.concurrency:
                from dataclasses import replace

                options = replace(options, concurrency=self.runner.concurrency)
            self.exploration = Explorer(
                self.endpoint,
                self.contract,
                budget=self.runner.budget,
                options=options,
                transport=self._transport,
                retry=self.runner.retry,
                limiter=self.runner.limiter,
                observer=self.observer,
            ).run()
        return self.exploration

    def network(self) -> dict[str, Any]:
        """How requests were sent, for results.json (and the report's header card)."""
        s, t = self.settings, self.endpoint.timeouts
        limiter = self.runner.limiter
        return {
            "tls_verify": self.endpoint.verify_tls,
            "insecure_http": s.allow_insecure_http and self.endpoint.base_url.startswith("http:"),
            "concurrency": self.runner.concurrency,
            "trials": self.runner.trials,
            "rate_limit": s.rate_limit,
            "rate_limit_wait_s": round(limiter.waited_s, 3) if limiter else 0.0,
            "retries": self.runner.retry.retries,
            "max_retry_wait_s": self.runner.retry.max_wait,
            "timeouts_s": {"connect": t.connect, "read": t.read, "idle": t.idle, "total": t.total},
            "interrupted": self.interrupted,
        }

    def write_results(self, path: Path) -> None:
        write_json_atomic(path, self.results_data())


def _what_to_check(error: str) -> str:
    """The next thing to check for a first request that got no answer."""
    if "plain HTTP" in error:  # --insecure would change nothing
        return "Use an http:// --base-url for this server (or put TLS in front of it)."
    if "connection refused" in error:
        return "Is the server running, and is the port in --base-url right?"
    if "TLS" in error:
        return (
            "Check the endpoint's certificate (and the system's CA bundle, or SSL_CERT_FILE); "
            "--insecure skips verification, for test servers only."
        )
    if "resolve" in error:
        return "Check the host name in --base-url, and DNS."
    if "connect timeout" in error:
        return (
            "Check the host and port in --base-url, any firewall or proxy in between, "
            "or raise --connect-timeout."
        )
    return "Check --base-url and that the server is up."
