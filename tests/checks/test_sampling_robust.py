"""The stream, usage, finish and sampling checks judge any body an endpoint may send without
raising: arbitrary JSON where a chunk or a response should be gives findings or a reason."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.checks import NotApplicable, get_check
from tests.checks._factory import JSON, SSE, exchange, judge, sse

MINE = (
    "chunk_envelope_stable", "stream_first_delta_role", "stream_finish_once",
    "stream_event_separation", "usage_cached_tokens", "stream_usage_chunk",
    "stream_usage_unrequested", "usage_stream_matches", "finish_reason_length",
    "finish_reason_tool_calls", "finish_reason_tool_calls_forced", "max_tokens_honoured",
    "stop_honoured", "n_choices", "seed_accepted", "sampling_bounds_accepted",
    "json_content_type", "stream_content_type",
)  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3)
KEYS = st.sampled_from(
    ["id", "created", "model", "choices", "index", "delta", "message", "content", "role",
     "finish_reason", "usage", "prompt_tokens", "completion_tokens", "total_tokens",
     "prompt_tokens_details", "cached_tokens", "tool_calls", "object"]
)  # fmt: skip
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=12,
)
PROBES = sorted({p for c in MINE for p in get_check(c).probes})


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(PROBES), st.lists(JSON_VALUES, min_size=1, max_size=3), st.booleans())
def test_no_check_raises_on_any_json(probe_id, payloads, streamed):
    if streamed:
        recorded = exchange(probe_id, body=sse(*payloads), headers=SSE)
    else:
        recorded = exchange(probe_id, body=payloads[0], headers=JSON)
    peers = dict.fromkeys(PROBES, recorded)
    for check_id in MINE:
        if probe_id in get_check(check_id).probes:
            result = judge(check_id, recorded, peers=peers)
            assert isinstance(result, list | NotApplicable), (check_id, result)
