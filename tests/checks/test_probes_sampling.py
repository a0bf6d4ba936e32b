"""The sampling-area probes: valid and cheap, at exactly the document's bounds, with twins
that differ only in being streamed; and the media-type checks for mislabelled streams."""

from __future__ import annotations

import json

import pytest

from conformance.checks import get_probe, registered_probes
from conformance.checks._probes_sampling import BOUNDS, TWINS
from conformance.contract._spec import default_contract
from tests.checks._factory import JSON, exchange, judge, sse
from tests.checks.test_chunk_envelope import chunk

DOCUMENT = default_contract("strict").schema("ChatCompletionRequest")["properties"]
MINE = [
    p for p in registered_probes() if p.body.__module__ == "conformance.checks._probes_sampling"
]


def test_the_sampling_probes_are_these():
    assert [p.id for p in MINE] == [
        "chat_n", "chat_n_stream", "cap_max_tokens", "cap_max_tokens_stream",
        "cap_max_completion_tokens", "stop_free", "stop_list", "stop_string", "seed",
        "temperature_min", "temperature_max", "top_p_min", "top_p_max",
        "presence_penalty_min", "presence_penalty_max", "frequency_penalty_min",
        "frequency_penalty_max", "tool_auto",
    ]  # fmt: skip


@pytest.mark.parametrize("probe", MINE, ids=lambda p: p.id)
def test_every_sampling_probe_is_valid_under_openai_and_cheap(probe):
    body = probe.body("some/model")
    assert default_contract("openai").validator("ChatCompletionRequest").validate(body) == []
    strict = default_contract("strict").validator("ChatCompletionRequest").validate(body)
    assert [v.json_path for v in strict] == (["$.stop"] if probe.id == "stop_string" else [])
    caps = [body.get("max_tokens"), body.get("max_completion_tokens")]
    assert min(c for c in caps if c is not None) <= 32
    assert len(body["messages"]) == 1
    assert len(body["messages"][0]["content"]) < 60
    assert (probe.auth, probe.needs_key, probe.content) == ("default", False, None)


def bound(schema, end):
    branch = next(b for b in schema["anyOf"] if b.get("type") == "number")
    return branch["minimum" if end == "min" else "maximum"]


@pytest.mark.parametrize(("name", "value", "end"), BOUNDS)
def test_each_bound_probe_sends_exactly_the_documents_bound(name, value, end):
    assert value == bound(DOCUMENT[name], end)
    body = get_probe(f"{name}_{end}").body("m")
    assert (body[name], body["max_tokens"]) == (value, 1)
    assert set(body) == {"model", "messages", "max_tokens", name}


def test_every_sampling_parameter_of_the_document_has_both_bounds_probed():
    numbers = {
        name
        for name, schema in DOCUMENT.items()
        if any(b.get("type") == "number" for b in schema.get("anyOf", []))
    }
    assert numbers == {name for name, _, _ in BOUNDS}
    assert sorted((name, end) for name, _, end in BOUNDS) == sorted(
        (name, end) for name in numbers for end in ("min", "max")
    )


@pytest.mark.parametrize(("streamed", "plain"), TWINS.items())
def test_twins_differ_only_in_being_streamed(streamed, plain):
    body = get_probe(streamed).body("m")
    assert (body.pop("stream"), body.pop("stream_options")) == (True, {"include_usage": True})
    assert body == get_probe(plain).body("m")


def test_n_probes_ask_for_two_choices_and_cap_probes_for_less_than_the_count():
    assert get_probe("chat_n").body("m")["n"] == get_probe("chat_n_stream").body("m")["n"] == 2
    body = get_probe("cap_max_completion_tokens").body("m")
    assert "max_tokens" not in body
    assert body["max_completion_tokens"] == 3
    assert "Count from 1 to 50" in body["messages"][0]["content"]


# -- a stream that is labelled JSON, and JSON that is a stream ------------------------------


def test_an_event_stream_labelled_json_is_named_as_such():
    recorded = exchange("chat_stream", body=sse(chunk(0, "ok", finish="stop")), headers=JSON)
    [finding] = judge("stream_content_type", recorded)
    assert (finding.title, finding.expected, finding.actual) == (
        "an event stream sent with Content-Type application/json",
        "text/event-stream",
        "application/json",
    )
    plain = exchange("chat_stream", body=json.dumps(chunk()), headers=JSON)
    [finding] = judge("stream_content_type", plain)
    assert finding.title == "stream: true answered as plain JSON"


@pytest.mark.parametrize(
    ("content_type", "labelled"),
    [("application/json", " labelled JSON"), ("text/event-stream", "")],
)
def test_a_request_without_stream_answered_with_a_stream_is_named(content_type, labelled):
    body = sse(chunk(0, "ok", finish="stop"))
    recorded = exchange("chat", body=body, headers={"content-type": content_type})
    [finding] = judge("json_content_type", recorded)
    assert finding.title == f"a request without stream: true answered as an event stream{labelled}"
    assert str(judge("response_schema", recorded)) == (
        "the answer is an event stream, not a response; see json_content_type"
    )


def test_the_shared_probes_are_those_success_status_judges():
    from conformance.checks import get_check
    from conformance.checks._helpers import SHARED

    assert get_check("success_status").probes == SHARED
    recorded = exchange("chat_n", status=500, body=b"oops", headers={"content-type": "text/plain"})
    assert str(judge("response_schema", recorded)) == (
        "the request was answered with status 500; see the check this probe is for"
    )
