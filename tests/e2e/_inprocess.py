"""A default check run sent in-process (``httpx.ASGITransport``) to an ASGI app: the same
engine, probes and checks as ``conformance run``, without the socket, pytest or HTML. Used
by the tests that walk the catalogue and by bench/bench_stability.py."""

from __future__ import annotations

from typing import Any

import httpx

from conformance.checks import registered_checks
from conformance.contract._spec import Contract
from conformance.engine._clients import judge_catalogue
from conformance.engine._engine import Runner
from conformance.engine._result import CheckResult
from conformance.run._settings import DEFAULT_TRIALS
from conformance.server import DEFAULT_MODEL, ServerConfig, create_app
from conformance.wire._client import Endpoint

KEY = "sk-in-process"


def run_app(
    app: Any,
    *,
    trials: int = DEFAULT_TRIALS,
    contract: Contract | None = None,
    evidence_tokens: int = 0,
) -> tuple[Runner, list[CheckResult]]:
    """Every registered check judged against ``app``, and the runner that sent the probes
    (``evidence_tokens``: as ``--evidence-tokens``; 0, exactly ``trials``, keeps tests fast)."""
    endpoint = Endpoint(base_url="http://in-process.invalid/v1", api_key=KEY, model=DEFAULT_MODEL)
    runner = Runner(
        endpoint,
        contract or Contract.load(None, profile="strict"),
        transport=httpx.ASGITransport(app),
        trials=trials,
        evidence_tokens=evidence_tokens,
    )
    checks = registered_checks()
    runner.fetch([p for c in checks for p in c.probes])  # all at once, as a run sends them
    runner.gather_evidence(checks)
    # client_reads_exchange left out: a replay per run; tests/clients and the clean-server
    # tests of tests/e2e/test_defects_found.py judge it.
    return runner, judge_catalogue(runner, checks, clients=False)


def run_server(
    *,
    mode: str = "model",
    seed: int | None = None,
    defects: frozenset[str] = frozenset(),
    trials: int = DEFAULT_TRIALS,
    contract: Contract | None = None,
) -> list[CheckResult]:
    """Every check's result against the reference server (model-like mode by default)."""
    profile = contract.profile if contract is not None else "strict"
    config = ServerConfig(api_key=KEY, mode=mode, seed=seed, defects=defects, profile=profile)
    return run_app(create_app(config), trials=trials, contract=contract)[1]
