"""Evidence trials go first to a sampled check that no trial provoked, at most
``UNPROVOKED_TRIALS`` more: a model that calls no tool under "auto" in the floor trials is
asked again from the evidence budget, so the finish_reason of a call is judged when it can
be."""

from __future__ import annotations

import json

import httpx

from conformance.checks import registered_checks
from conformance.checks._model import Verdict
from conformance.contract._spec import Contract
from conformance.engine._clients import judge_catalogue
from conformance.engine._engine import Runner
from conformance.engine._evidence import UNPROVOKED_TRIALS
from conformance.server import DEFAULT_MODEL, ServerConfig, create_app
from conformance.wire._client import Endpoint
from tests.checks._factory import completion, message_choice

KEY = "sk-in-process"
CHECK = "finish_reason_tool_calls"
FLOOR = 4


def auto_answered_in_text(first: int) -> tuple[httpx.AsyncBaseTransport, list[int]]:
    """The toy reference server, except that its first ``first`` answers under tool_choice
    "auto" are text; the list counts the "auto" requests."""
    app = httpx.ASGITransport(create_app(ServerConfig(api_key=KEY, mode="toy")))
    seen = [0]

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        if body.get("tool_choice") == "auto" and not body.get("stream"):
            seen[0] += 1
            if seen[0] <= first:
                return httpx.Response(200, json=completion(message_choice("I'd rather not.")))
        return await app.handle_async_request(request)

    return httpx.MockTransport(handler), seen


def judged(transport: httpx.AsyncBaseTransport, evidence_tokens: int):
    endpoint = Endpoint(base_url="http://in-process.invalid/v1", api_key=KEY, model=DEFAULT_MODEL)
    runner = Runner(
        endpoint,
        Contract.load(None, profile="openai"),
        transport=transport,
        trials=FLOOR,
        evidence_tokens=evidence_tokens,
    )
    checks = [c for c in registered_checks() if c.id == CHECK]
    runner.fetch([p for c in checks for p in c.probes])
    runner.gather_evidence(checks)
    [result] = judge_catalogue(runner, checks, clients=False)
    return result


def test_a_check_no_floor_trial_provoked_is_provoked_by_an_evidence_trial():
    asks_per_trial = 2  # tool_auto and its one follow-up
    transport, _ = auto_answered_in_text(first=FLOOR * asks_per_trial)
    result = judged(transport, evidence_tokens=1500)
    assert result.verdict == Verdict.PASS  # judged on trial 5's call, then tightened
    assert result.trials - result.provoked == FLOOR  # every floor trial unprovoked


def test_a_check_never_provoked_gets_at_most_its_unprovoked_trials_then_says_so():
    transport, seen = auto_answered_in_text(first=10**6)
    result = judged(transport, evidence_tokens=100_000)
    assert result.verdict == Verdict.SKIP
    assert result.trials == FLOOR + UNPROVOKED_TRIALS
    assert seen[0] == (FLOOR + UNPROVOKED_TRIALS) * 2
    assert result.reason == (
        "not provoked in any of 6 trials: tool_auto: the model answered without calling a "
        "tool; tool_auto_again: the model answered without calling a tool"
    )


def test_without_an_evidence_budget_the_floor_is_all():
    transport, seen = auto_answered_in_text(first=10**6)
    result = judged(transport, evidence_tokens=0)
    assert (result.verdict, result.trials, seen[0]) == (Verdict.SKIP, FLOOR, FLOOR * 2)
