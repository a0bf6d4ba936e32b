"""One run, from resolved settings to results: contract, endpoint (or the embedded
reference server), the runner, and the results gathered so far.

Shared by the CLI and the pytest plugin, so that both run the suite the same way.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from conformance._baseline import Gate
from conformance._budget import Budget
from conformance._client import Endpoint
from conformance._engine import CheckResult, Runner
from conformance._results import RunInfo, build, public_url, write_json_atomic
from conformance._settings import Settings
from conformance._spec import Contract


class Session:
    """Use as a context manager: entering loads the contract and starts what is needed."""

    def __init__(
        self,
        settings: Settings,
        *,
        defects: Iterable[str] = (),
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.defects = frozenset(defects)
        self._transport = transport
        self._stack = contextlib.ExitStack()
        self._started = time.perf_counter()
        self.results: list[CheckResult] = []
        self.notes: list[str] = []
        self.partial = False
        self.gate = Gate()  # what fails the run: --fail-on, --baseline (set by the CLI)
        self.contract: Contract
        self.endpoint: Endpoint
        self.runner: Runner

    def __enter__(self) -> Session:
        self.contract = Contract.load(self.settings.spec, profile=self.settings.profile)
        if self.settings.embedded:
            from conformance.server import ServerConfig, serve_in_thread

            key = secrets.token_urlsafe(24)
            config = ServerConfig(api_key=key, profile=self.settings.profile, defects=self.defects)
            server = self._stack.enter_context(serve_in_thread(config))
            model = self.settings.model or config.models[0]
            self.endpoint = Endpoint(base_url=server.base_url, api_key=key, model=model)
        else:
            assert self.settings.base_url is not None  # noqa: S101 - embedded covers None
            self.endpoint = Endpoint(
                base_url=self.settings.base_url,
                api_key=self.settings.api_key,
                model=self.settings.model or "",
            )
        self.runner = Runner(
            self.endpoint,
            self.contract,
            transport=self._transport,
            concurrency=self.settings.concurrency,
            budget=Budget(self.settings.max_requests, self.settings.max_tokens),
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
        exchange = self.runner.fetch(["chat"])[0]
        url = public_url(self.endpoint.chat_url())
        if exchange.error is not None:
            return (
                f"cannot reach the endpoint at {url}: {exchange.error}. "
                "Check --base-url and that the server is up."
            )
        if exchange.status in (401, 403) and self.endpoint.api_key:
            return (
                f"authentication rejected: {url} answered {exchange.status} to the API key "
                "given. Check --api-key (or CONFORMANCE_API_KEY / OPENAI_API_KEY)."
            )
        return None

    def info(self) -> RunInfo:
        notes = list(self.notes)
        stopped = self.runner.stopped_by
        if stopped is not None:
            notes.append(f"stopped early: {stopped}; checks that needed more requests are ERROR")
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
            partial=self.partial or stopped is not None,
            notes=notes,
        )

    def results_data(self) -> dict[str, Any]:
        return self.gate.apply(self._built())

    def _built(self) -> dict[str, Any]:
        return build(
            self.info(),
            self.results,
            exchanges=self.runner.exchanges,
            requests_sent=self.runner.requests_sent,
            usage=self.runner.usage(),
        )

    def write_results(self, path: Path) -> None:
        write_json_atomic(path, self.results_data())
