"""The explorer against the reference server: in-process and over a real socket; clean it
finds nothing, and each combination-only defect is found, attributed and shrunk."""

from __future__ import annotations

import json

import pytest

from conformance.checks._model import Verdict
from conformance.contract._spec import default_contract
from conformance.engine._budget import Budget
from conformance.explore import DEFAULT_EXAMPLES, PROPERTIES, ExploreOptions, Explorer
from conformance.server import ServerConfig, serve_in_thread
from conformance.wire._client import Endpoint
from conformance.wire._retry import RetryPolicy
from tests.explore.helpers import KEY, MODEL, explore, explorer, only

SEED = 20261126


def verdicts(exploration):
    return {p.id: exploration.result(p).verdict for p in PROPERTIES}


def test_the_clean_reference_server_shows_nothing():
    explorer_ = explorer(examples=30, seed=SEED)
    exploration = explorer_.run()
    assert exploration.discoveries == []
    assert set(verdicts(exploration).values()) == {Verdict.PASS}
    valid, invalid = exploration.stats["valid"], exploration.stats["invalid"]
    assert (valid.planned, valid.sent, valid.requests, valid.shrink_requests) == (30, 30, 30, 0)
    assert (invalid.planned, invalid.sent, invalid.requests) == (30, 30, 60)  # + follow-ups
    assert valid.completion_tokens > 0
    assert invalid.prompt_tokens > 0
    # every token the budget was charged is in one phase's count, and no more
    budget = explorer_.budget
    assert (exploration.prompt_tokens, exploration.completion_tokens) == (
        budget.prompt_tokens,
        budget.completion_tokens,
    )
    assert budget.requests == 90
    assert exploration.requests == 90
    reason = exploration.result(PROPERTIES[0]).reason
    assert reason.startswith(f"30 generated valid requests (seed {SEED}, 30 requests, ")


def test_n_with_stream_500_is_found_with_the_default_examples_and_shrunk_to_its_fields():
    exploration = explore("n-stream-500", seed=SEED, phases=("valid",))
    assert exploration.options.examples == DEFAULT_EXAMPLES
    found = only(exploration, "explore_no_server_errors")
    assert found.finding.check_id == "explore_no_server_errors"
    assert found.finding.title == "a schema-valid request was answered with 500"
    assert found.finding.actual == "500: The server had an error while processing your request."
    assert found.fields() == ["n", "stream"]
    assert found.shrunk
    assert found.body["n"] == 2
    assert found.body["stream"] is True
    assert set(found.body) <= {"model", "messages", "n", "stream", "max_tokens"}
    assert found.finding.exchange.request.body == found.body
    assert found.finding.exchange.status == 500
    assert found.count >= 2
    assert verdicts(exploration)["explore_no_server_errors"] is Verdict.FAIL
    assert verdicts(exploration)["explore_response_schema"] is Verdict.PASS
    assert exploration.result(PROPERTIES[0]).reason.endswith(
        "; a schema-valid request was answered with 500: shrunk example triggered by n, stream"
    )


def test_a_refused_valid_parameter_is_a_warning_that_names_it():
    exploration = explore("negative-presence-penalty-rejected", seed=SEED, phases=("valid",))
    found = only(exploration, "explore_valid_accepted")
    assert found.finding.title == "a schema-valid request was refused with 400"
    assert found.finding.json_path == "$.presence_penalty"
    assert found.fields() == ["presence_penalty"]
    assert found.body["presence_penalty"] == -1
    assert found.finding.actual == (
        "400: Invalid 'presence_penalty': this model supports values from 0 to 2, but got -1."
    )
    result = exploration.result(next(p for p in PROPERTIES if p.id == "explore_valid_accepted"))
    assert result.verdict is Verdict.WARN


@pytest.mark.parametrize(
    ("defect", "check_id", "json_path"),
    [
        ("missing-chunk-id", "chunk_schema", "$"),
        ("bad-usage-total", "usage_arithmetic", "$.usage.total_tokens"),
        ("missing-service-tier", "response_schema", "$"),
    ],
)
def test_a_schema_invalid_answer_is_attributed_to_the_catalogue_check(defect, check_id, json_path):
    exploration = explore(defect, seed=SEED, examples=20, phases=("valid",))
    found = [d for d in exploration.discoveries if d.finding.check_id == check_id]
    assert found, [d.to_dict() for d in exploration.discoveries]
    assert {d.property_id for d in exploration.discoveries} == {"explore_response_schema"}
    assert found[0].finding.json_path == json_path
    assert verdicts(exploration)["explore_response_schema"] is Verdict.FAIL


def test_invalid_requests_served_500_fail_with_the_catalogue_check_and_the_broken_field():
    exploration = explore("invalid-request-500", seed=SEED, examples=20, phases=("invalid",))
    assert verdicts(exploration)["explore_invalid_rejected"] is Verdict.FAIL
    assert verdicts(exploration)["explore_recovers"] is Verdict.PASS
    assert exploration.discoveries
    for found in exploration.discoveries:
        assert found.property_id == "explore_invalid_rejected"
        assert found.finding.check_id == "invalid_request_rejected"
        assert found.finding.title.startswith("schema-invalid request caused a server error (")
        assert found.fields() == [found.mutation.json_path]
        assert found.finding.exchange.status == 500
    keys = [d.key for d in exploration.discoveries]
    assert len(keys) == len(set(keys))  # one finding per (property, check, path, kind)


def test_the_budget_stops_exploration_cleanly_and_says_so():
    budget = Budget(max_requests=25)
    exploration = explore(budget=budget, seed=SEED, examples=30)
    assert exploration.stopped_by == "the request budget is spent (25 of --max-requests 25)"
    assert exploration.requests == budget.requests == 25
    assert exploration.stats["valid"].sent == 25
    assert exploration.stats["invalid"].sent == 0
    results = {p.id: exploration.result(p) for p in PROPERTIES}
    assert results["explore_no_server_errors"].verdict is Verdict.PASS
    assert results["explore_no_server_errors"].reason.endswith(
        "; stopped early: the request budget is spent (25 of --max-requests 25)"
    )
    assert results["explore_invalid_rejected"].verdict is Verdict.ERROR
    assert results["explore_invalid_rejected"].reason.startswith(
        "no generated request was answered: 0 generated invalid requests"
    )


def test_rate_limited_requests_are_retried_with_the_runs_policy_and_counted_per_attempt():
    # the first attempt of each request gets 429 and a 50 ms reset
    limited = {"faults": ("rate-limit-reset",), "seed": SEED, "examples": 5}
    without = explore(**limited, phases=("valid",))
    assert (without.stats["valid"].sent, without.stats["valid"].inconclusive) == (5, 5)
    explorer_ = explorer(**limited, retry=RetryPolicy(retries=1))
    exploration = explorer_.run()
    assert exploration.discoveries == []
    valid, invalid = exploration.stats["valid"], exploration.stats["invalid"]
    assert (valid.sent, valid.inconclusive, valid.requests) == (5, 0, 10)
    # the fault keys "first attempt" on the body: the five follow-ups are one plain request,
    # limited once (5 x 2 for the invalid ones, 2 + 4 x 1 for the follow-ups)
    assert (invalid.sent, invalid.inconclusive, invalid.requests) == (5, 0, 16)
    assert exploration.requests == explorer_.budget.requests == 26
    assert {exploration.result(p).verdict for p in PROPERTIES} == {Verdict.PASS}


def test_a_budget_that_refuses_a_retry_stops_exploration():
    budget = Budget(max_requests=3)
    explorer_ = explorer(
        faults=("rate-limit-reset",), retry=RetryPolicy(retries=1), budget=budget,
        seed=SEED, examples=5, phases=("valid",), concurrency=1,
    )  # fmt: skip
    exploration = explorer_.run()
    assert exploration.stopped_by == "the request budget is spent (3 of --max-requests 3)"
    assert exploration.requests == budget.requests == 3
    assert (exploration.stats["valid"].sent, exploration.stats["valid"].inconclusive) == (2, 1)


@pytest.mark.e2e
def test_over_a_real_socket_the_same_seed_replays_the_same_requests():
    config = ServerConfig(api_key=KEY, defects=frozenset({"n-stream-500"}))
    with serve_in_thread(config) as server:
        endpoint = Endpoint(server.base_url, api_key=KEY, model=MODEL)
        runs = [
            Explorer(
                endpoint,
                default_contract(),
                options=ExploreOptions(seed=SEED, examples=40, phases=("valid",)),
            ).run()
            for _ in range(2)
        ]
    first, second = ([d.to_dict() for d in r.discoveries] for r in runs)
    for found in first + second:
        found.pop("exchange")
    assert first == second
    assert [d["property"] for d in first] == ["explore_no_server_errors"]
    assert first[0]["fields"] == ["n", "stream"]
    assert json.dumps(first[0]["example"]).startswith("{")
    assert runs[0].stats["valid"].to_dict() == runs[1].stats["valid"].to_dict()
