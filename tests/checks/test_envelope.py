"""The non-streamed answer: schema, status, media type and usage, judged on generated bodies.

Every valid ChatCompletionResponse that the contract's own schema generates passes every
check of the ``chat`` probe; each mutation of it is exactly the findings it should be.
"""

from __future__ import annotations

import copy
import json

from hypothesis import given
from hypothesis import strategies as st

from conformance.checks._probes import MAX_TOKENS
from tests.checks._factory import (
    CONTRACT,
    GENERATED,
    clean,
    exchange,
    expect,
    judge,
    outcomes,
    usage_counts,
    valid,
    with_usage,
)

RESPONSE = "#/components/schemas/ChatCompletionResponse"
REQUIRED = CONTRACT.schema("ChatCompletionResponse")["required"]


def as_assistant(payload):
    """``payload`` with every message in the assistant's role (the enum allows others, which
    ``message_role_assistant`` refuses in an answer)."""
    for choice in payload["choices"]:
        choice["message"]["role"] = "assistant"
        if choice["message"].get("tool_calls") == []:  # valid, but tool_calls_not_empty's
            del choice["message"]["tool_calls"]
    return payload


responses = st.builds(
    with_usage,
    valid("ChatCompletionResponse").map(as_assistant),
    usage_counts(MAX_TOKENS),
)


def chat(body, **kw):
    return exchange("chat", body=body, **kw)


def drop(body, name):
    broken = copy.deepcopy(body)
    del broken[name]
    return broken


@GENERATED
@given(responses, st.sampled_from(REQUIRED))
def test_a_valid_response_passes_and_each_mutation_is_exactly_its_findings(body, field):
    # a generated body, valid as the contract's own schema says, with usage that adds up
    ok = chat(body)
    assert outcomes(ok) == clean(ok)

    # a required property dropped: one schema finding at the root (usage then has nothing
    # to add up, which is response_schema's to report)
    dropped = chat(drop(body, field))
    assert outcomes(dropped) == expect(
        dropped,
        response_schema=[(f"required property {field!r} is missing", "$", None)],
        **({"usage_arithmetic": "n/a", "max_tokens_honoured": "n/a"} if field == "usage" else {}),
        **({"message_role_assistant": "n/a"} if field == "choices" else {}),
    )
    [finding] = judge("response_schema", dropped)
    assert (finding.schema_path, finding.expected) == (f"{RESPONSE}/required", {"required": field})

    # a wrong type and a wrong constant, each at its own path
    broken = {**body, "created": str(body["created"]), "object": "chat.completion.chunk"}
    findings = judge("response_schema", chat(broken))
    assert [(f.title, f.json_path, f.schema_path) for f in findings] == [
        ("wrong type: expected integer", "$.created", f"{RESPONSE}/properties/created/type"),
        (
            "value not allowed: expected 'chat.completion'",
            "$.object",
            "#/components/schemas/ChatCompletionObject/const",
        ),
    ]

    # an answer in another role: the schema's enum allows it, the role check does not
    if body["choices"]:
        first = copy.deepcopy(body)
        first["choices"][0]["message"]["role"] = "user"
        assert outcomes(chat(first)) == expect(
            chat(first),
            message_role_assistant=[
                (
                    "a choice's message does not say role: assistant",
                    "$.choices[0].message.role",
                    None,
                )
            ],
        )

    # usage that does not add up: the schema is still kept, the arithmetic is not
    usage = body["usage"]
    total = usage["prompt_tokens"] + usage["completion_tokens"]
    off = chat({**body, "usage": {**usage, "total_tokens": total + 1}})
    assert outcomes(off) == expect(
        off,
        usage_arithmetic=[
            (
                "usage.total_tokens is not prompt_tokens + completion_tokens",
                "$.usage.total_tokens",
                None,
            ),
        ],
    )
    [finding] = judge("usage_arithmetic", off)
    assert (finding.expected, finding.actual) == (total, total + 1)

    # the same body, cut short, with the wrong media type, or behind an error status
    text = json.dumps(body)
    cut = chat(text[:-1])
    [finding] = judge("response_schema", cut)
    assert finding.title == "the response body is not JSON"
    assert outcomes(cut) == expect(
        cut,
        response_schema=[("the response body is not JSON", "$", None)],
        message_role_assistant="n/a",
        tool_calls_not_empty="n/a",
        usage_arithmetic="n/a",
        usage_cached_tokens="n/a",
        max_tokens_honoured="n/a",
    )

    plain = chat(text, headers={"content-type": "text/plain"})
    assert outcomes(plain) == expect(
        plain, json_content_type=[("Content-Type is not application/json", "$", None)]
    )

    failed = chat(text, status=500)
    assert outcomes(failed) == {
        "success_status": [("a valid request was answered with 500, not 200", "$", None)],
        "json_content_type": "n/a",
        "response_schema": "n/a",
        "message_role_assistant": "n/a",
        "tool_calls_not_empty": "n/a",
        "usage_arithmetic": "n/a",
        "usage_cached_tokens": "n/a",
        "usage_stream_matches": "n/a",  # judged from the streamed twin's side
        "max_tokens_honoured": "n/a",
        "gzip_decoded": [],  # any answer, error or not, decoded as declared
    }
