"""What exploration generates: valid requests within the caps, invalid ones breaking
exactly one rule, and the same cases for the same seed."""

from __future__ import annotations

import pytest

from conformance.contract._spec import default_contract
from conformance.explore import (
    ExploreOptions,
    RequestFactory,
    Shaping,
    cohere,
    invalid_requests,
    mutations,
)
from tests.explore.helpers import MODEL, explorer

CONTRACT = default_contract()
VALIDATOR = CONTRACT.validator("ChatCompletionRequest")


@pytest.fixture(scope="module")
def factory():
    return RequestFactory(CONTRACT, MODEL, Shaping(), seed=11)


def test_valid_requests_are_valid_pinned_capped_and_coherent(factory):
    bodies = factory.valid(60)
    assert len(bodies) == 60
    for body in bodies:
        assert VALIDATOR.validate(body) == []
        assert body["model"] == MODEL
        assert set(body) <= set(CONTRACT.schema("ChatCompletionRequest")["properties"])
        caps = [body.get("max_tokens"), body.get("max_completion_tokens")]
        assert any(isinstance(c, int) for c in caps)
        assert all(c is None or 0 <= c <= 16 for c in caps)
        assert body.get("n") in (None, 1, 2)
        assert body.get("top_logprobs") is None or (
            body["top_logprobs"] <= 5 and body["logprobs"] is True
        )
        assert len(body["messages"]) <= 2
        assert body["messages"][-1]["role"] == "user"
        choice = body.get("tool_choice")
        if isinstance(choice, dict):
            assert choice["function"]["name"] == body["tools"][0]["function"]["name"]


def test_optional_fields_meet_in_pairs(factory):
    bodies = factory.valid(100)
    both = [b for b in bodies if b.get("n") == 2 and b.get("stream") is True]
    alone = [b for b in bodies if "stream" not in b]
    assert len(both) >= 2
    assert 25 <= len(alone) <= 75


def test_cohere_applies_the_rules_the_document_cannot_state():
    body = {
        "model": MODEL,
        "messages": [{"role": "assistant", "content": "hi"}],
        "top_logprobs": 2,
        "tool_choice": {"type": "function", "function": {"name": "other"}},
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    assert cohere(body, Shaping()) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "top_logprobs": 2,
        "logprobs": True,
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "max_tokens": 16,
    }
    assert "tool_choice" not in cohere({**body, "tools": []}, Shaping())


def test_invalid_requests_break_exactly_the_rule_of_their_mutation(factory):
    pairs = invalid_requests(factory, 80)
    assert len(pairs) == 80
    for body, mutation in pairs:
        broken = VALIDATOR.validate(body)
        assert broken, mutation.describe()
        for violation in broken:
            assert mutation.json_path.startswith(violation.json_path) or (
                violation.json_path.startswith(mutation.json_path)
            ), (mutation.describe(), violation.json_path)


def test_mutations_cover_every_kind_the_issue_names():
    kinds = {m.kind for m in mutations(CONTRACT)}
    assert kinds == {"out of range", "wrong type", "missing required", "bad enum", "too few items"}
    described = {m.describe() for m in mutations(CONTRACT)}
    assert {
        "$.n: out of range (129)",
        "$.temperature: out of range (2.5)",
        "$.model: missing required (removed)",
        '$.messages[0].role: bad enum ("not-a-valid-value")',
        "$.messages: too few items ([])",
        "$.tools[0].function: missing required (removed)",
    } <= described


def test_the_same_seed_gives_the_same_cases_and_another_seed_others():
    one = explorer(examples=25).cases(42)
    assert explorer(examples=25).cases(42) == one
    assert explorer(examples=25).cases(43) != one
    assert len(one[0]) == len(one[1]) == 25


def test_options_refuse_nonsense():
    with pytest.raises(ValueError, match=r"^--examples 0 must be at least 1$"):
        ExploreOptions(examples=0)
    with pytest.raises(ValueError, match=r"^unknown exploration phase 'fuzz'"):
        ExploreOptions(phases=("fuzz",))


def test_the_catalogue_checks_that_judge_generated_answers():
    from conformance.checks import registered_checks

    marked = {c.id for c in registered_checks() if c.any_exchange}
    assert {
        "json_content_type",
        "stream_content_type",
        "response_schema",
        "chunk_schema",
        "stream_done_terminator",
        "stream_framing",
        "usage_arithmetic",
        "invalid_request_rejected",
        "error_body_shape",
    } <= marked
    assert not marked & {"success_status", "auth_missing_key_rejected", "usage_stream_matches"}
