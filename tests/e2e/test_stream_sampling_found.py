"""The stream, envelope, usage, finish_reason and sampling checks against the reference
server in-process, one defect at a time: the check that is meant for it reports exactly
these findings (title, JSON path, probe) with this verdict. (That no other check changes
verdict, and that the clean server passes every check, is test_defects_found's.)"""

from __future__ import annotations

import httpx
import pytest

from conformance import Contract, Endpoint, Runner, Verdict
from conformance.checks import get_check
from conformance.checks._model import path_family
from conformance.server import ServerConfig, create_app
from tests.e2e.test_defects_found import EXPECTED

KEY = "sk-test-stream-defects-01"
STREAMS = ("cap_max_tokens_stream", "chat_n_stream", "chat_stream", "chat_stream_usage")
USAGE_STREAMS = ("cap_max_tokens_stream", "chat_n_stream", "chat_stream_usage")
ANSWERS = ("cap_max_completion_tokens", "cap_max_tokens", "chat", "chat_n")
CAPS = ("cap_max_completion_tokens", "cap_max_tokens", "cap_max_tokens_stream")
CACHED = "usage.prompt_tokens_details.cached_tokens exceeds prompt_tokens"
FORCED = "a choice with tool calls does not finish with tool_calls (the tool was forced)"
ENUM = "value not allowed: expected ['stop', 'length', 'tool_calls', 'content_filter']"


def each(title, path, *probes):
    return [(title, path, probe) for probe in probes]


def length(*probes):
    return [
        (f"an answer that reached {probe_cap(p)} does not finish with length", FINISH, p)
        for p in probes
    ]


def probe_cap(probe_id):
    return "max_completion_tokens" if probe_id == "cap_max_completion_tokens" else "max_tokens"


FINISH = "$.choices[0].finish_reason"
FOUND = {
    "glued-events": {
        "stream_event_separation": (
            Verdict.FAIL,
            each("events not separated by a blank line", "$", *STREAMS),
        )
    },
    "stream-by-default": {
        "json_content_type": (
            Verdict.FAIL,
            each("a request without stream: true answered as an event stream", "$", "chat"),
        )
    },
    "unstable-chunk-id": {
        "chunk_envelope_stable": (Verdict.FAIL, each("id changes between chunks", "$.id", *STREAMS))
    },
    "wrong-chunk-object": {
        "chunk_schema": (
            Verdict.FAIL,
            each("value not allowed: expected 'chat.completion.chunk'", "$.object", *STREAMS),
        )
    },
    "no-delta-role": {
        "stream_first_delta_role": (
            Verdict.FAIL,
            each(
                "the first delta of a choice does not say role: assistant",
                "$.choices[0].delta.role",
                *STREAMS,
            ),
        ),
        "chunk_schema": (
            Verdict.FAIL,
            each("required property 'role' is missing", "$.choices[0].delta", *STREAMS),
        ),
    },
    "double-finish": {
        "stream_finish_once": (
            Verdict.FAIL,
            each("finish_reason sent more than once for a choice", FINISH, *STREAMS),
        )
    },
    "usage-chunk-with-choices": {
        "stream_usage_chunk": (
            Verdict.FAIL,
            each("the usage chunk carries choices", "$.choices", *USAGE_STREAMS),
        )
    },
    "unrequested-usage": {
        "stream_usage_unrequested": (
            Verdict.WARN,
            each("usage sent though include_usage was not asked for", "$.usage", "chat_stream"),
        )
    },
    "cached-over-prompt": {
        "usage_cached_tokens": (
            Verdict.FAIL,
            each(
                CACHED,
                "$.usage.prompt_tokens_details.cached_tokens",
                *sorted(
                    {*ANSWERS, *USAGE_STREAMS, "seed", "stop_list", "tool_auto"},
                ),
            ),
        )
    },
    "stream-usage-differs": {
        "usage_stream_matches": (
            Verdict.FAIL,
            each(
                "streamed usage.prompt_tokens differs from the same request not streamed",
                "$.usage.prompt_tokens",
                "cap_max_tokens_stream",
                "chat_stream_usage",
            ),
        )
    },
    "length-as-stop": {"finish_reason_length": (Verdict.FAIL, length(*CAPS))},
    "tool-calls-finish-stop": {
        "finish_reason_tool_calls": (
            Verdict.FAIL,
            each("a choice with tool calls does not finish with tool_calls", FINISH, "tool_auto"),
        ),
        "finish_reason_tool_calls_forced": (
            Verdict.WARN,
            each(FORCED, FINISH, "tools_named", "tools_required", "tools_required_stream"),
        ),
    },
    "bad-finish-reason": {
        "response_schema": (Verdict.FAIL, each(ENUM, FINISH, "stop_list")),
        "stream_stop_honoured": (
            Verdict.FAIL,
            [("a stream cut by its stop text does not finish with stop", FINISH, "stop_stream")],
        ),
    },
    "ignore-max-tokens": {
        "max_tokens_honoured": (
            Verdict.FAIL,
            [
                (f"completion_tokens exceeds {probe_cap(p)}", "$.usage.completion_tokens", p)
                for p in sorted({*ANSWERS, *CAPS, "chat_n_stream", "chat_stream_usage"})
            ],
        ),
        "finish_reason_length": (Verdict.FAIL, length(*CAPS)),
    },
    "ignore-stop": {
        "stop_honoured": (
            Verdict.FAIL,
            each(
                "the answer goes on past a stop sequence",
                "$.choices[0].message.content",
                "stop_list",
            ),
        ),
        "stream_stop_honoured": (
            Verdict.FAIL,
            [("the stream sends its stop text", "$.choices[0].delta.content", "stop_stream")],
        ),
    },
    "n-ignored": {
        "n_choices": (
            Verdict.FAIL,
            each("n: 2 answered with 1 choice", "$.choices", "chat_n", "chat_n_stream"),
        )
    },
    "reject-seed": {
        "seed_accepted": (
            Verdict.FAIL,
            each("a valid request with seed was answered with 400", "$", "seed"),
        )
    },
    "reject-top-p-zero": {
        "sampling_bounds_accepted": (
            Verdict.FAIL,
            each("top_p 0 (inside the document's range) was refused", "$.top_p", "top_p_min"),
        )
    },
}


def runner_for(defect: str) -> Runner:
    config = ServerConfig(api_key=KEY, defects=frozenset([defect]))
    return Runner(
        Endpoint("http://127.0.0.1/v1", api_key=KEY, model=config.models[0]),
        Contract.load(),
        transport=httpx.ASGITransport(create_app(config)),
    )


def shown(findings):
    """(JSON path, probe) of every probe that showed each finding: one finding per defect
    lists its probes (issue 21), the table lists each probe's."""
    return sorted({(path_family(f.json_path), p) for f in findings for p in f.probes})


@pytest.mark.parametrize("defect", sorted(FOUND))
def test_the_check_for_each_defect_reports_exactly_its_findings(defect):
    runner = runner_for(defect)
    for check_id, (verdict, want) in FOUND[defect].items():
        result = runner.evaluate(get_check(check_id))
        expected = sorted({(path_family(path), probe) for _, path, probe in want})
        assert (result.verdict, shown(result.findings)) == (verdict, expected), check_id
        assert {f.title for f in result.findings} <= {title for title, _, _ in want}, check_id


def test_the_findings_here_agree_with_the_verdicts_of_the_whole_catalogue():
    for defect, checks in FOUND.items():
        judged = {k: v for k, v in EXPECTED[defect].items() if v is not Verdict.SKIP}
        assert {k: verdict for k, (verdict, _) in checks.items()} == judged, defect


def test_a_finding_in_a_stream_names_its_event_and_keeps_the_evidence():
    runner = runner_for("double-finish")
    result = runner.evaluate(get_check("stream_finish_once"))
    finding = next(f for f in result.findings if f.exchange.id == "chat_stream")
    events = finding.exchange.events
    assert finding.chunk_index == len(events) - 2  # the repeat, just before [DONE]
    assert events[-1].data == "[DONE]"
    assert '"finish_reason":"length"' in events[finding.chunk_index].data
    assert finding.expected.startswith("one finish_reason for choice 0, already sent in event ")


def test_under_openai_a_missing_first_role_is_the_role_checks_alone():
    config = ServerConfig(api_key=KEY, profile="openai", defects=frozenset(["no-delta-role"]))
    runner = Runner(
        Endpoint("http://127.0.0.1/v1", api_key=KEY, model=config.models[0]),
        Contract.load(profile="openai"),
        transport=httpx.ASGITransport(create_app(config)),
    )
    verdicts = {
        check_id: runner.evaluate(get_check(check_id)).verdict
        for check_id in ("stream_first_delta_role", "chunk_schema", "stream_finish_once")
    }
    assert verdicts == {
        "stream_first_delta_role": Verdict.FAIL,
        "chunk_schema": Verdict.PASS,  # the overlay lets later deltas leave role out
        "stream_finish_once": Verdict.PASS,
    }
