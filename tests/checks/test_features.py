"""response_format, logprobs, messages, reasoning and the new error checks on exchanges built
by hand: a valid answer passes, each mutation is exactly its finding at its JSON path."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conformance.checks import NotProvoked, Unsupported
from tests.checks._factory import (
    SSE,
    clean,
    completion,
    exchange,
    expect,
    judge,
    message_choice,
    outcomes,
    sse,
)

CONTENT = "$.choices[0].message.content"


def answer(content="ok", *, finish="stop", logprobs=None, **message):
    return completion(message_choice(content, finish=finish, logprobs=logprobs, **message))


def found(check_id, recorded, **kw):
    result = judge(check_id, recorded, **kw)
    return result if isinstance(result, Exception) else [(f.title, f.json_path) for f in result]


# -- response_format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"word": "ok"}', []),
        ('Sure! {"word": "ok"}', [("JSON mode content is not JSON", CONTENT, None)]),
        ('["ok"]', [("JSON mode content is JSON but not an object", CONTENT, None)]),
        (None, [("JSON mode answered without string content", CONTENT, None)]),
    ],
)
def test_json_mode_content_must_be_a_json_object(content, expected):
    recorded = exchange("format_json_object", body=answer(content))
    assert outcomes(recorded) == expect(recorded, json_object_content=expected)


@pytest.mark.parametrize("probe_id", ["format_json_schema_strict", "format_json_schema"])
@pytest.mark.parametrize(
    ("content", "keywords"),
    [
        ('{"ok": true}', []),
        ('{"answer": true}', ["required", "additionalProperties"]),
        ('{"ok": 1}', ["type"]),
    ],
)
def test_json_schema_content_validates_against_the_requested_schema(probe_id, content, keywords):
    title = "json_schema content breaks the requested schema (`{}`)"
    assert found("json_schema_content", exchange(probe_id, body=answer(content))) == [
        (title.format(k), CONTENT) for k in keywords
    ]


def test_format_checks_skip_a_cut_answer_and_call_a_declined_format_unsupported():
    cut = exchange("format_json_object", body=answer('{"word": "o', finish="length"))
    assert str(judge("json_object_content", cut)) == (
        "the answer was cut by max_tokens, so it may be partial JSON"
    )
    refusal = {"error": {"message": "json_schema is not supported", "type": "invalid_request"}}
    result = judge("json_schema_content", exchange("format_json_schema", status=400, body=refusal))
    assert isinstance(result, Unsupported)
    assert str(result) == (
        "the endpoint declined response_format json_schema (400: json_schema is not supported)"
    )


TITLE = "json_schema content breaks the requested schema (`{}`)"
MEND = "the answer was cut by max_tokens, so it may be partial JSON"


@pytest.mark.parametrize(
    ("probe_id", "content", "verdict"),
    [
        # no ending could mend these: a key the schema forbids, a whole value of the wrong
        # type, a whole string outside the enum
        ("format_json_schema_strict", '{"answer": true, "wor', ["additionalProperties"]),
        ("format_json_schema_strict", '{"ok": "yes", ', ["type"]),
        ("format_json_schema_enum", '{"size": "medium", "x', ["enum"]),
        # these may yet mend: a string, a number or a key cut short, a required key to come
        ("format_json_schema_strict", '{"ok": tr', MEND),
        ("format_json_schema_enum", '{"size": "sma', MEND),
        ("format_json_schema_enum", '{"si', MEND),
        ("format_json_schema_strict", "{", MEND),
        ("format_json_schema_strict", '{"ok" 1', MEND),  # not JSON: the re-ask judges it
    ],
)
def test_a_cut_json_schema_answer_is_judged_for_what_no_ending_could_mend(
    probe_id, content, verdict
):
    result = judge("json_schema_content", exchange(probe_id, body=answer(content, finish="length")))
    if verdict == MEND:
        assert isinstance(result, NotProvoked)
        assert str(result) == MEND
    else:
        assert [(f.title, f.json_path) for f in result] == [
            (TITLE.format(k), CONTENT) for k in verdict
        ]


def test_a_numeric_enum_is_not_judged_on_a_number_that_may_have_more_digits():
    from conformance.checks.response_format import Cut, cut_violations

    schema = {"type": "object", "properties": {"n": {"enum": [12]}}}
    assert cut_violations(schema, Cut('{"n": 1')) == []
    assert [e.validator for e in cut_violations(schema, Cut('{"n": true, '))] == ["enum"]


@given(
    st.one_of(
        st.builds(lambda v: ("size", {"size": v}), st.sampled_from(["small", "large"])),
        st.builds(lambda v: ("ok", {"ok": v}), st.booleans()),
    ),
    st.sampled_from([(",", ":"), (", ", ": "), (",\n  ", ":  ")]),
)
def test_no_cut_prefix_of_a_valid_answer_is_a_finding(named, separators):
    from conformance.checks.response_format import SCHEMA, SIZE_SCHEMA, Cut, cut_violations

    name, instance = named
    schema = SIZE_SCHEMA if name == "size" else SCHEMA
    whole = json.dumps(instance, separators=separators, ensure_ascii=False)
    for end in range(len(whole) + 1):
        assert cut_violations(schema, Cut(whole[:end])) == [], whole[:end]


# -- logprobs -----------------------------------------------------------------------------


def entry(token, logprob, top=()):
    return {
        "token": token,
        "logprob": logprob,
        "bytes": list(token.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top],
    }


GOOD = [
    entry("ok", -0.1, [("ok", -0.1), ("no", -2.0)]),
    entry(" café", -1.5, [(" café", -1.5), (" tea", -1.6)]),
]
LP = "$.choices[0].logprobs.content"


def logprob_answer(entries):
    """An answer whose content is what its entries' tokens spell."""
    return answer("".join(e["token"] for e in entries), logprobs={"content": entries})


def test_valid_logprobs_pass_every_check_of_the_probe():
    recorded = exchange("logprobs_top", body=logprob_answer(GOOD))
    assert outcomes(recorded) == clean(recorded)


def mutated(change):
    entries = copy.deepcopy(GOOD)
    change(entries)
    return entries


LOGPROB_MUTATIONS = {
    "missing": (
        None,
        {"logprobs_present": [("logprobs: true answered content without logprobs.content",
                               "$.choices[0].logprobs", None)],
         # no logprobs at all: their values, ranks and bytes were not provoked
         "logprob_values": "n/a", "top_logprobs_ranked": "n/a", "logprobs_bytes": "n/a",
         "logprobs_spell_content": "n/a"},
    ),
    "positive": (
        mutated(lambda e: e[1].update(logprob=0.5)),
        {"logprob_values": [("a logprob is above 0", f"{LP}[1].logprob", None)]},
    ),
    "positive alternative": (
        mutated(lambda e: e[0]["top_logprobs"][1].update(logprob=3)),
        {"logprob_values": [("a logprob is above 0", f"{LP}[0].top_logprobs[1].logprob", None)],
         "top_logprobs_ranked": [("top_logprobs is not sorted most likely first",
                                  f"{LP}[0].top_logprobs", None)]},
    ),
    "one too many": (
        mutated(lambda e: e[0]["top_logprobs"].append({"token": "x", "logprob": -3.0,
                                                        "bytes": [120]})),
        {"top_logprobs_ranked": [("top_logprobs has more entries than requested",
                                  f"{LP}[0].top_logprobs", None)]},
    ),
    "always one short": (
        mutated(lambda e: [x["top_logprobs"].pop() for x in e]),
        {"top_logprobs_ranked": [("top_logprobs never has the requested number of entries",
                                  f"{LP}[0].top_logprobs", None)]},
    ),
    "unsorted": (
        mutated(lambda e: e[1]["top_logprobs"].reverse()),
        {"top_logprobs_ranked": [("top_logprobs is not sorted most likely first",
                                  f"{LP}[1].top_logprobs", None)]},
    ),
    "bytes off": (
        mutated(lambda e: e[1].update(bytes=list(b" cafe"))),
        {"logprobs_bytes": [("bytes do not decode to the token", f"{LP}[1].bytes", None)]},
    ),
    "bytes out of range": (
        mutated(lambda e: e[0].update(bytes=[300])),
        {"logprobs_bytes": [("bytes is not a list of byte values", f"{LP}[0].bytes", None)]},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", LOGPROB_MUTATIONS)
def test_each_logprobs_mutation_is_exactly_its_finding(name):
    entries, changed = LOGPROB_MUTATIONS[name]
    body = answer("ok café") if entries is None else logprob_answer(entries)
    recorded = exchange("logprobs_top", body=body)
    assert outcomes(recorded) == expect(recorded, **changed)


def test_partial_utf8_bytes_and_null_bytes_are_allowed():
    entries = mutated(lambda e: e[1].update(bytes=[0xC3], token="\\xc3"))
    entries[0]["bytes"] = None
    assert found("logprobs_bytes", exchange("logprobs_top", body=logprob_answer(entries))) == []


@given(st.lists(st.floats(-50, 0, allow_nan=False), min_size=2, max_size=2).map(sorted))
def test_any_sorted_non_positive_logprobs_pass(values):
    low, high = values
    entries = [entry("ok", high, [("ok", high), ("no", low)])]
    recorded = exchange("logprobs_top", body=logprob_answer(entries))
    assert outcomes(recorded) == clean(recorded)


def chunk(delta, logprobs=None, finish=None):
    return {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}],
    }


def test_streamed_logprobs_are_judged_chunk_by_chunk():
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "ok"}, {"content": [GOOD[0]]}),
        chunk({"content": " café"}, None),
        chunk({}, finish="stop"),
    ]
    recorded = exchange("logprobs_top_stream", body=sse(*chunks), headers=SSE)
    [finding] = judge("logprobs_present", recorded)
    assert (finding.title, finding.json_path, finding.chunk_index) == (
        "logprobs: true answered content without logprobs.content",
        "$.choices[0].logprobs",
        2,
    )


def test_logprobs_false_must_give_null():
    asked = {"logprobs_top": exchange("logprobs_top", body=logprob_answer(GOOD))}
    off = exchange("logprobs_off", body=answer())
    assert found("logprobs_absent_when_off", off, peers=asked) == []
    recorded = exchange("logprobs_off", body=logprob_answer(GOOD))
    assert found("logprobs_absent_when_off", recorded) == [
        ("logprobs: false answered with logprobs", "$.choices[0].logprobs")
    ]
    # an endpoint that gives no logprobs even when asked shows nothing by leaving them out
    unasked = {"logprobs_top": exchange("logprobs_top", body=answer())}
    for peers in (unasked, {}):
        result = judge("logprobs_absent_when_off", off, peers=peers)
        assert isinstance(result, NotProvoked)
        assert str(result) == "the endpoint gave no logprobs even when asked (logprobs_top)"


# -- messages -----------------------------------------------------------------------------

REFUSAL = {"error": {"message": "unsupported", "type": "invalid_request_error"}}


@pytest.mark.parametrize(
    ("probe_id", "check_id", "title", "path"),
    [
        ("messages_roles", "message_roles_accepted",
         "a system, user and assistant conversation was refused", "$.messages"),
        ("messages_content_parts", "message_content_parts_accepted",
         "content as an array of text parts was refused", "$.messages[0].content"),
        ("messages_name", "message_name_accepted",
         "a message with a name was refused", "$.messages[0].name"),
    ],
)  # fmt: skip
def test_message_forms_must_be_served(probe_id, check_id, title, path):
    assert found(check_id, exchange(probe_id, body=answer())) == []
    assert found(check_id, exchange(probe_id, status=400, body=REFUSAL)) == [(title, path)]
    crashed = exchange(probe_id, status=500, body="oops")
    assert found(check_id, crashed) == [
        (title.replace("was refused", "caused a server error"), path)
    ]


def test_unknown_fields_a_refusal_warns_and_a_server_error_fails():
    ok = exchange("messages_unknown_fields", body=answer())
    assert outcomes(ok) == clean(ok)
    refused = exchange("messages_unknown_fields", status=400, body=REFUSAL)
    assert outcomes(refused) == expect(
        refused,
        unknown_fields_accepted=[
            ("a request with an unknown field was refused", "$.x_conformance_unknown", None)
        ],
    )
    crashed = exchange("messages_unknown_fields", status=500, body="oops")
    assert outcomes(crashed) == expect(
        crashed,
        unknown_fields_accepted="n/a",
        unknown_fields_no_server_error=[
            (
                "a request with an unknown field caused a server error",
                "$.x_conformance_unknown",
                None,
            )
        ],
    )


# -- errors: unknown model, recovery ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "title"),
    [
        (404, None),
        (400, None),
        (200, "a request for an unknown model was served"),
        (401, "a request for an unknown model was answered 401, as if the key were wrong"),
        (403, "a request for an unknown model was answered 403, as if the key were wrong"),
        (500, "a request for an unknown model caused a server error"),
    ],
)
def test_an_unknown_model_gets_a_4xx_that_is_not_about_the_key(status, title):
    body = answer() if status == 200 else REFUSAL
    result = found("unknown_model_rejected", exchange("unknown_model", status=status, body=body))
    assert result == ([] if title is None else [(title, "$.model")])


def test_the_unknown_model_probe_names_a_model_that_is_not_the_configured_one():
    recorded = exchange("unknown_model", status=404, body=REFUSAL)
    assert recorded.request.body["model"] == "conformance-no-such-model-7f3a"


def test_recovery_is_a_served_plain_request():
    assert found("recovers_after_invalid", exchange("chat_after_invalid", body=answer())) == []
    crashed = exchange("chat_after_invalid", status=500, body="oops")
    assert found("recovers_after_invalid", crashed) == [
        ("a valid request sent after 9 refused requests caused a server error", "$")
    ]


# -- reasoning ----------------------------------------------------------------------------


def test_reasoning_effort_served_declined_or_broken():
    assert found("reasoning_effort_accepted", exchange("reasoning_effort", body=answer())) == []
    declined = judge(
        "reasoning_effort_accepted", exchange("reasoning_effort", status=400, body=REFUSAL)
    )
    assert isinstance(declined, Unsupported)
    assert str(declined) == "the endpoint declined reasoning_effort (400: unsupported)"
    crashed = exchange("reasoning_effort", status=500, body="oops")
    assert found("reasoning_effort_accepted", crashed) == [
        ('a request with reasoning_effort "low" caused a server error', "$.reasoning_effort")
    ]


def reasoning_stream(*deltas):
    chunks = [chunk({"role": "assistant", **d}) for d in deltas]
    return exchange(
        "reasoning_stream",
        body=sse(*chunks, chunk({"role": "assistant"}, finish="stop")),
        headers=SSE,
    )


def test_streamed_reasoning_content_must_be_a_string():
    good = reasoning_stream({"reasoning_content": "Hmm"}, {"content": "ok"})
    assert outcomes(good) == clean(good)
    bad = reasoning_stream(
        {"reasoning_content": [{"type": "text", "text": "Hmm"}]}, {"content": "ok"}
    )
    assert found("reasoning_content_deltas", bad) == [
        (
            "matches none of the allowed shapes (string or null)",
            "$.choices[0].delta.reasoning_content",
        )
    ]
    none = reasoning_stream({"content": "ok"})
    assert str(judge("reasoning_content_deltas", none)) == (
        "the stream carried no reasoning_content or reasoning"
    )


@pytest.mark.parametrize("tag", ["<think>", "</think>", "<THINKING>"])
def test_think_tags_in_content_are_a_leak_streamed_or_not(tag):
    recorded = exchange("reasoning_effort", body=answer(f"{tag}hmm ok"))
    assert found("reasoning_not_in_content", recorded) == [
        ("reasoning leaked into content as think tags", CONTENT)
    ]
    split = reasoning_stream({"content": tag[:3]}, {"content": tag[3:] + "hmm"}, {"content": "ok"})
    [finding] = judge("reasoning_not_in_content", split)
    assert (finding.json_path, finding.chunk_index) == ("$.choices[0].delta.content", 1)
    reasoned = exchange(
        "reasoning_effort", body=answer("I think so", reasoning_content="Thinking: yes")
    )
    assert found("reasoning_not_in_content", reasoned) == []
    # no reasoning anywhere: a model that does not reason cannot misplace it
    plain = exchange("reasoning_effort", body=answer("I think so"))
    result = judge("reasoning_not_in_content", plain)
    assert isinstance(result, NotProvoked)
    assert str(result) == (
        "the answer shows no reasoning at all (no reasoning_content or reasoning)"
    )


def test_every_feature_probe_stays_cheap():
    from conformance.checks import registered_probes
    from conformance.checks.response_format import AGAIN_TOKENS

    for probe in registered_probes():
        body = probe.body("m")
        cap = body.get("max_tokens")
        # a question asked again with more room is sent only when its first answer was cut
        limit = AGAIN_TOKENS if probe.build is not None else 64
        assert cap is None or isinstance(cap, str) or cap <= limit, probe.id
        assert len(json.dumps(body)) < 2000, probe.id


@pytest.mark.parametrize("profile", ["strict", "openai"])
@pytest.mark.parametrize(
    ("probe_id", "rule"),
    [("invalid_n_129", ("$.n", "maximum")), ("invalid_max_tokens_type", ("$.max_tokens", "anyOf"))],
)
def test_the_added_invalid_probes_break_exactly_one_rule(profile, probe_id, rule):
    from conformance.checks import get_probe
    from conformance.contract._spec import default_contract

    body = get_probe(probe_id).body("m")
    violations = default_contract(profile).validator("ChatCompletionRequest").validate(body)
    assert [(v.json_path, v.keyword) for v in violations] == [rule]


def test_recovery_needs_a_message_not_just_a_2xx():
    empty = exchange("chat_after_invalid", body={"choices": []})
    assert found("recovers_after_invalid", empty) == [
        ("a valid request sent after 9 refused requests was answered without a message",
         "$.choices[0].message")
    ]  # fmt: skip
    html = exchange("chat_after_invalid", body="<html>ok</html>")
    assert judge("recovers_after_invalid", html) == []  # response_schema's to judge


def test_a_logprobs_flaw_at_every_token_is_one_finding_with_a_count():
    entries = mutated(lambda e: [x.update(logprob=1.0) for x in e])
    [finding] = judge("logprob_values", exchange("logprobs_top", body=logprob_answer(entries)))
    assert (finding.json_path, finding.count) == (f"{LP}[0].logprob", 2)
