"""Probes are cheap, valid requests, except the invalid ones, which break exactly one rule."""

from __future__ import annotations

import json

import pytest

from conformance.checks import get_probe, registered_probes
from conformance.checks._probes import INVALID, MAX_TOKENS
from conformance.contract._spec import default_contract

NOT_JSON = get_probe("chat_after_not_json").after  # the probes whose body is not JSON
REQUEST = default_contract("strict").validator("ChatCompletionRequest")
VALID = ("chat", "chat_stream", "chat_stream_usage", "no_key", "wrong_key")
# probe -> (JSON path, keyword) of the one rule it breaks
BROKEN = {
    "invalid_temperature": ("$.temperature", "maximum"),
    "invalid_n_zero": ("$.n", "minimum"),
    "invalid_empty_messages": ("$.messages", "minItems"),
    "invalid_role": ("$.messages[0].role", "enum"),
    "invalid_missing_model": ("$", "required"),
    "invalid_messages_type": ("$.messages", "type"),
}


def shared():
    """The probes of ``_probes`` (the feature areas add theirs in their own modules)."""
    return [p for p in registered_probes() if p.body.__module__ == "conformance.checks._probes"]


def test_the_probes_are_the_valid_ones_and_the_invalid_ones():
    assert [p.id for p in shared()] == [*VALID, *BROKEN]
    assert tuple(BROKEN) == INVALID


@pytest.mark.parametrize("probe_id", VALID)
def test_every_valid_probe_body_validates_and_is_cheap(probe_id):
    body = get_probe(probe_id).body("some/model")
    assert REQUEST.validate(body) == []
    assert body["model"] == "some/model"
    assert body["max_tokens"] == MAX_TOKENS <= 16
    assert len(json.dumps(body)) < 300


@pytest.mark.parametrize("probe_id", list(BROKEN))
def test_every_invalid_probe_breaks_exactly_its_one_rule(probe_id):
    body = get_probe(probe_id).body("some/model")
    violations = REQUEST.validate(body)
    assert [(v.json_path, v.keyword) for v in violations] == [BROKEN[probe_id]]
    assert body.get("max_tokens") == MAX_TOKENS


@pytest.mark.parametrize("profile", ["strict", "openai"])
def test_the_invalid_probes_stay_invalid_under_both_profiles(profile):
    request = default_contract(profile).validator("ChatCompletionRequest")
    for probe_id in BROKEN:
        assert not request.is_valid(get_probe(probe_id).body("m")), probe_id


def test_stream_probes_ask_for_a_stream_and_only_one_asks_for_usage():
    assert "stream" not in get_probe("chat").body("m")
    assert get_probe("chat_stream").body("m")["stream"] is True
    usage = get_probe("chat_stream_usage").body("m")
    assert (usage["stream"], usage["stream_options"]) == (True, {"include_usage": True})


def test_auth_probes_send_no_key_or_a_wrong_key_and_need_one_configured():
    auth = {p.id: (p.auth, p.needs_key) for p in shared()}
    assert auth == {
        **dict.fromkeys((*VALID[:3], *BROKEN), ("default", False)),
        "no_key": ("none", True),
        "wrong_key": ("invalid", True),
    }


def test_every_probe_body_is_plain_json_and_built_fresh():
    for probe in registered_probes():
        first = probe.body("m")
        first["messages"] = None
        assert probe.body("m") != first
        assert probe.content is None or probe.id in NOT_JSON


def test_the_bodies_that_are_not_json_are_cut_short_a_bare_word_mislabelled_and_empty():
    sent = {p: (get_probe(p).content, dict(get_probe(p).headers)) for p in NOT_JSON}
    assert sent == {
        "body_truncated": (b'{"model": "conformance-model", "messages', {}),
        "body_bare_word": (b"hello", {}),
        "body_text_plain": (None, {"Content-Type": "text/plain"}),
        "body_empty": (b"", {}),
    }
    for content, _ in sent.values():
        if content is not None:
            with pytest.raises(json.JSONDecodeError):
                json.loads(content)
    assert get_probe("chat_after_not_json").after == NOT_JSON
