"""The validation core: every violation, with its JSON path and document pointer."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conformance import Contract
from conformance.contract._validation import resolve_pointer

CONTRACT = Contract.load()
CHUNK = CONTRACT.validator("ChatCompletionChunk")
RESPONSE = CONTRACT.validator("ChatCompletionResponse")


def chunk(**over):
    base = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "system_fingerprint": "fp",
        "usage": None,
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "hi"},
                "finish_reason": None,
                "logprobs": None,
            }
        ],
    }
    base.update(over)
    return base


words = st.text(alphabet="abcdefgh ", min_size=0, max_size=12)
valid_chunks = st.builds(
    lambda content, n, finish, created: chunk(
        created=created,
        choices=[
            {
                "index": i,
                "delta": {"role": "assistant", "content": content},
                "finish_reason": finish,
                "logprobs": None,
            }
            for i in range(n)
        ],
    ),
    words,
    st.integers(0, 3),
    st.sampled_from([None, "stop", "length", "tool_calls"]),
    st.integers(0, 2**31),
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(valid_chunks)
def test_valid_chunks_have_no_violation(instance):
    assert CHUNK.is_valid(instance)
    assert CHUNK.validate(instance) == []


REQUIRED = ["id", "choices", "created", "model", "system_fingerprint", "object", "usage"]


@settings(max_examples=40)
@given(valid_chunks, st.sampled_from(REQUIRED))
def test_dropping_a_required_field_is_exactly_one_violation_at_the_root(instance, field):
    broken = copy.deepcopy(instance)
    del broken[field]
    violations = CHUNK.validate(broken)
    assert [(v.json_path, v.schema_path, v.keyword, v.expected) for v in violations] == [
        ("$", "#/components/schemas/ChatCompletionChunk/required", "required", {"required": field})
    ]


@settings(max_examples=40)
@given(valid_chunks.filter(lambda c: c["choices"]), st.sampled_from(["x", 1.5, None, []]))
def test_a_wrong_index_type_is_reported_at_its_path(instance, bad):
    broken = copy.deepcopy(instance)
    broken["choices"][-1]["index"] = bad
    last = len(broken["choices"]) - 1
    violations = CHUNK.validate(broken)
    assert [(v.json_path, v.schema_path, v.summary) for v in violations] == [
        (
            f"$.choices[{last}].index",
            "#/components/schemas/ChatCompletionStreamChoice/properties/index/type",
            "wrong type: expected integer",
        )
    ]


def test_every_violation_is_reported_not_just_the_first():
    broken = chunk(object="chat.completion", created="now")
    del broken["id"]
    broken["choices"][0]["finish_reason"] = "done"
    violations = CHUNK.validate(broken)
    assert [(v.json_path, v.keyword) for v in violations] == [
        ("$", "required"),
        ("$.choices[0].finish_reason", "enum"),
        ("$.created", "type"),
        ("$.object", "const"),
    ]
    finish = violations[1]
    assert finish.schema_path == "#/components/schemas/ChatCompletionFinishReason/enum"
    assert finish.expected == {"enum": ["stop", "length", "tool_calls", "content_filter"]}
    assert finish.actual == "done"


def test_an_object_failing_a_nullable_ref_is_explained_inside_the_ref():
    violations = CHUNK.validate(chunk(usage={"prompt_tokens": 1, "completion_tokens": 1}))
    assert [(v.json_path, v.schema_path, v.expected) for v in violations] == [
        ("$.usage", "#/components/schemas/Usage/required", {"required": "total_tokens"})
    ]


def test_a_value_of_no_allowed_type_lists_the_allowed_types():
    violations = CHUNK.validate(
        chunk(
            choices=[
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": 7},
                    "finish_reason": None,
                    "logprobs": None,
                }
            ]
        )
    )
    assert len(violations) == 1
    v = violations[0]
    assert (v.json_path, v.keyword, v.expected, v.actual) == (
        "$.choices[0].delta.content",
        "anyOf",
        {"anyOf": ["string", "null"]},
        {"type": "integer", "value": 7},
    )
    assert v.summary == "matches none of the allowed shapes (string or null)"


def test_integers_beyond_64_bits_are_validated_not_crashed_on():
    missing = ["choices", "created", "model", "object", "service_tier", "usage"]
    assert [(v.json_path, v.keyword, v.expected) for v in RESPONSE.validate({"id": "x"})] == [
        ("$", "required", {"required": name}) for name in missing
    ]
    assert CHUNK.validate(chunk(created=2**80)) == []


def test_large_values_are_clipped_in_evidence():
    violations = CHUNK.validate(chunk(id=["x" * 500]))
    assert violations[0].actual["value"].endswith("... (504 characters)")


def test_a_json_pointer_is_followed_through_objects_lists_and_escapes_or_refused():
    root = {"paths": {"/v1/chat": {"a~b": [{"x": 1}, {"x": 2}]}}}
    assert resolve_pointer(root, "#/paths/~1v1~1chat/a~0b/1/x") == 2
    assert resolve_pointer(root, "/paths/~1v1~1chat/a~0b/0") == {"x": 1}
    assert resolve_pointer(root, "#") is root
    for missing in ("#/nope", "#/paths/~1v1~1chat/a~0b/2", "#/paths/~1v1~1chat/a~0b/-1"):
        with pytest.raises(LookupError):
            resolve_pointer(root, missing)
