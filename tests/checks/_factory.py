"""Build exchanges as the client records them, judge them with the real checks, and
generate valid payloads from the contract's own schemas. No HTTP here."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from conformance.checks import CheckContext, NotApplicable, get_probe, registered_checks
from conformance.contract._spec import default_contract
from conformance.wire._exchange import Exchange, RecordedRequest
from conformance.wire._sse import SSEDecoder

MODEL = "test-model"
URL = "http://127.0.0.1:9/v1/chat/completions"
JSON = {"content-type": "application/json"}
SSE = {"content-type": "text/event-stream; charset=utf-8"}
CONTRACT = default_contract("strict")


def completion(*choices, usage=None, **envelope):
    """A chat.completion body with ``choices`` (and ``usage``, 1 + 1 tokens by default)."""
    counts = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "service_tier": "default",
        "choices": list(choices),
        "usage": counts if usage is None else usage,
        **envelope,
    }


def message_choice(content="ok", *, finish="stop", index=0, logprobs=None, **message):
    """One choice of a chat.completion: an assistant message with ``content``."""
    return {
        "index": index,
        "message": {"role": "assistant", "content": content, **message},
        "finish_reason": finish,
        "logprobs": logprobs,
    }


def exchange(probe_id, *, status=200, body=b"", headers=None, streamed=None):
    """An exchange for probe ``probe_id``; an event-stream body is decoded like the client does."""
    headers = dict(JSON if headers is None else headers)
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = json.dumps(body).encode()
    recorded = Exchange(
        id=probe_id,
        request=RecordedRequest("POST", URL, {}, get_probe(probe_id).body(MODEL)),
        status=status,
        headers=headers,
        body=body,
    )
    kind = headers.get("content-type", "").split(";")[0].strip()
    if streamed if streamed is not None else kind == "text/event-stream":
        decoder = SSEDecoder()
        recorded.events = decoder.feed(body)
        decoder.close()
        recorded.framing = list(decoder.problems)
        recorded.streamed = True
    return recorded


def sse(*datas, done=True):
    """An event-stream body: one ``data:`` event per item (dicts as JSON), then ``[DONE]``."""
    lines = [f"data: {d if isinstance(d, str) else json.dumps(d)}\n\n" for d in datas]
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def judge(check_id, recorded, *, profile="strict", peers=None, expect_auth=False):
    """The findings of one check on one exchange, or the ``NotApplicable`` it raised.
    ``peers``: the exchanges of the check's other probes, by probe id."""
    check = next(c for c in registered_checks() if c.id == check_id)
    ctx = CheckContext(
        contract=default_contract(profile),
        model=MODEL,
        api_key_configured=True,
        probe=get_probe(recorded.id),
        peers={recorded.id: recorded, **(peers or {})},
        expect_auth=expect_auth,
    )
    try:
        return list(check.func(recorded, ctx))
    except NotApplicable as why:
        return why


def outcomes(recorded, *, profile="strict"):
    """Every check that judges this exchange's probe: id -> [(title, json_path, chunk)] or
    ``"n/a"``. The whole picture, so a test also sees findings it did not expect."""
    out: dict[str, Any] = {}
    for check in registered_checks():
        if recorded.id in check.probes:
            result = judge(check.id, recorded, profile=profile)
            out[check.id] = (
                "n/a"
                if isinstance(result, NotApplicable)
                else [(f.title, f.json_path, f.chunk_index) for f in result]
            )
    return out


# Checks that judge an exchange against another probe's (its twin, or the answer that
# shows the behaviour is provoked at all): judged alone, as here, they are n/a.
PEERED = {
    "usage_stream_matches",  # streamed usage against the non-streamed twin's
    "stream_usage_unrequested",  # provoked only if usage is streamed when asked
    "tool_choice_none_no_calls",  # provoked only if tools are called under "required"
    "logprobs_absent_when_off",  # provoked only if logprobs come when asked
    "stop_honoured",  # provoked only if the answer without stop holds the stop text
    "tool_call_stream_matches",  # a stream against the non-streamed answer
    "stream_stop_honoured",  # its stop text comes from the answer without stop
}


def clean(recorded):
    """``outcomes`` of an exchange every check passes: each check id -> []; but a check
    that judges it against another probe's exchange has none here: n/a (``PEERED``).
    A token cap that the answer did not reach was not provoked: n/a too."""
    out = {c.id: [] for c in registered_checks() if recorded.id in c.probes}
    for check_id in PEERED & set(out):
        out[check_id] = "n/a"
    if "max_tokens_honoured" in out and not _reached_cap(recorded):
        out["max_tokens_honoured"] = "n/a"
    if "stream_delta_identity_once" in out and not _second_delta(recorded):
        out["stream_delta_identity_once"] = "n/a"  # nothing could be sent again
    if "chunk_created_stable" in out:  # a stream recorded here spans no second: not provoked
        out["chunk_created_stable"] = "n/a"
    return out


def _second_delta(recorded) -> bool:
    from conformance.checks._support import deltas

    try:
        choices = [d.choice_index for d in deltas(recorded)]
    except NotApplicable:
        return True  # not a stream at all: n/a for its own reason
    return len(choices) > len(set(choices))


def _reached_cap(recorded) -> bool:
    from conformance.checks._answer import count, read_answer

    body = get_probe(recorded.id).body(MODEL)
    cap = body.get("max_completion_tokens") or body.get("max_tokens")
    try:
        answer = read_answer(recorded)
    except NotApplicable:
        return True  # not an answer at all: n/a for its own reason, not this helper's
    used = count(answer.usage, "completion_tokens")
    if cap is None or used is None:
        return True  # judged otherwise (no cap, no usage): not this helper's to say
    cut = any(view.finish_reason == "length" for view in answer.choices.values())
    return used >= cap * max(body.get("n") or 1, 1) or cut


CHUNK_OK = {
    "id": "c1",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "system_fingerprint": "fp",
    "usage": None,
    "choices": [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "ok"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
}


def stream(body, **kw):
    """A ``chat_stream`` exchange, served as an event stream unless ``headers`` say otherwise."""
    return exchange("chat_stream", body=body, **{"headers": SSE, **kw})


def expect(recorded, **changes):
    """``clean`` outcomes but for the ``changes`` (check id -> outcome)."""
    return {**clean(recorded), **changes}


# -- payloads generated from the contract ---------------------------------------------------

# For tests drawing from ``valid``: hypothesis-jsonschema needs about 0.1 s per instance
# (it re-reads the schema on every draw, and its anyOf and object strategies filter), so
# few examples, each generated instance serving every mutation, and no shrinking (which
# takes minutes on these instances; a failure shows the example as generated).
GENERATED = settings(
    max_examples=25,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


def valid(name, profile="strict"):
    """Instances of ``#/components/schemas/<name>``, generated from the contract itself
    (the components travel along so that every ``$ref`` resolves)."""
    components = default_contract(profile).components()
    return from_schema(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": components}}
    )


def usage_counts(max_completion=10**6):
    """Arithmetic-consistent usage numbers: (prompt, completion, total); ``max_completion``
    keeps completion_tokens within a probe's token cap."""
    return st.tuples(st.integers(0, 10**6), st.integers(0, max_completion)).map(
        lambda pc: (pc[0], pc[1], pc[0] + pc[1])
    )


def with_usage(payload, counts):
    """``payload`` with consistent usage numbers (other usage fields kept, cached tokens
    no more than the prompt's)."""
    prompt, completion, total = counts
    usage = dict(payload.get("usage") or {})
    usage.update(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        # cached tokens are part of the prompt (usage_cached_tokens)
        usage["prompt_tokens_details"] = {
            **details,
            "cached_tokens": min(details["cached_tokens"], prompt),
        }
    return {**payload, "usage": usage}
