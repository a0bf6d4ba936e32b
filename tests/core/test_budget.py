"""Hard ceilings on requests and tokens, and how the engine honours them."""

from __future__ import annotations

import json

import httpx

from conformance import Contract, Endpoint, Exchange, Runner, Verdict
from conformance.checks import get_check
from conformance.engine._budget import Budget
from conformance.wire._exchange import RecordedRequest


def exchange(body: dict, status: int = 200) -> Exchange:
    return Exchange(
        id="p",
        request=RecordedRequest(
            "POST",
            "http://127.0.0.1/v1/chat/completions",
            {},
            {"messages": [{"role": "user", "content": "one two three"}]},
        ),
        status=status,
        headers={"content-type": "application/json"},
        body=json.dumps(body).encode(),
    )


def test_requests_are_admitted_until_the_ceiling_then_refused_with_the_reason():
    budget = Budget(max_requests=2)
    assert budget.admit() is None
    assert budget.admit() is None
    assert budget.admit() == "the request budget is spent (2 of --max-requests 2)"
    assert budget.requests == 2


def test_tokens_come_from_reported_usage_and_stop_further_requests():
    budget = Budget(max_tokens=10)
    budget.charge(
        exchange({"usage": {"prompt_tokens": 4, "completion_tokens": 7, "total_tokens": 11}})
    )
    assert (budget.prompt_tokens, budget.completion_tokens, budget.estimated) == (4, 7, 0)
    assert budget.admit() == "the token budget is spent (11 of --max-tokens 10)"


def test_tokens_are_estimated_when_usage_is_absent_and_errors_cost_nothing():
    budget = Budget()
    budget.charge(exchange({"choices": [{"message": {"content": "a b c d e f"}}]}))
    # 4 tokens per 3 words: the messages sent as JSON (6 words), the answer's content and
    # its empty tool_calls as JSON (6 + 1 words)
    assert (budget.prompt_tokens, budget.completion_tokens, budget.estimated) == (8, 10, 1)
    before = budget.tokens
    budget.charge(exchange({"error": {"message": "bad"}}, status=400))
    assert budget.tokens == before


def test_a_redirect_or_refusal_is_charged_only_the_usage_it_reports():
    budget = Budget()
    for status in (301, 302, 307, 404, 500):
        budget.charge(exchange({"moved": True}, status=status))
    assert (budget.tokens, budget.estimated) == (0, 0)
    usage = {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}
    budget.charge(exchange({"error": {"message": "too long"}, "usage": usage}, status=400))
    assert (budget.prompt_tokens, budget.completion_tokens, budget.estimated) == (3, 0, 0)


def test_the_runner_sends_nothing_past_the_ceiling_and_says_why():
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.path)
        return httpx.Response(
            200, json={"usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
        )

    runner = Runner(
        Endpoint("http://127.0.0.1:9/v1", model="m"),
        Contract.load(),
        transport=httpx.MockTransport(handler),
        budget=Budget(max_requests=1),
    )
    result = runner.evaluate(get_check("success_status"))  # needs three probes
    assert len(sent) == 1
    assert runner.stopped_by == "the request budget is spent (1 of --max-requests 1)"
    assert result.verdict is Verdict.ERROR
    assert result.reason == "; ".join(
        f"{probe}: not sent: the request budget is spent (1 of --max-requests 1)"
        for probe in ("chat_stream", "chat_stream_usage")
    )
