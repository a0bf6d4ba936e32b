"""Real providers' recorded answers (``/work/shared/recorded/``, read-only), replayed by
``conformance.server._replay`` and judged by the checks of chunks, bodies and framing.

Under ``--profile openai`` the harmless quirks these providers ship (a provider's own
``service_tier``, ``created`` changing mid-stream, ...) are no MUST FAIL, while the real
defects (Mistral's tool-call deltas without ``index``, content sent as an array) still are.
Nothing here names a provider in the code under test: general rules only.
"""

from __future__ import annotations

import asyncio
import functools

import httpx
import pytest

from conformance import Contract, Endpoint, Runner, Verdict
from conformance.checks import registered_checks
from conformance.checks._model import Severity
from conformance.engine._result import CheckResult
from conformance.server._replay import Recording, recordings, replay_app
from tests.conftest import RECORDED

# The checks of a chunk, a body or the framing: what the recording alone decides, whatever
# request it answered (tool_choice, include_usage and the like need the request it had).
SHAPE_CHECKS = (
    "json_content_type",
    "stream_content_type",
    "response_schema",
    "message_role_assistant",
    "chunk_schema",
    "chunk_envelope_stable",
    "chunk_created_stable",
    "stream_first_delta_role",
    "stream_finish_once",
    "stream_done_terminator",
    "stream_framing",
    "stream_event_separation",
    "tool_call_stream_deltas",
    "reasoning_content_deltas",
)
CLEAN_PROVIDERS = ("openai", "deepseek", "groq")
# Findings that compare the recording with the request the probe sent, not its shape: the
# recordings answered other requests (a tool named `weather` the probes never declare).
REQUEST_DEPENDENT = ("a tool call names a function that was not declared",)

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason="no recorded traffic here")


@functools.cache
def contract(profile: str) -> Contract:
    return Contract.load(profile=profile)


@functools.cache
def judged(name: str, profile: str = "openai") -> dict[str, CheckResult]:
    """The shape checks' results on the recording ``name``, replayed for every probe."""
    runner = Runner(
        Endpoint("http://127.0.0.1/v1", api_key="sk-replay", model="recorded"),
        contract(profile),
        transport=httpx.ASGITransport(replay_app(Recording.load(RECORDED, name))),
        trials=1,
    )
    checks = [c for c in registered_checks() if c.id in SHAPE_CHECKS]
    return {c.id: runner.evaluate(c) for c in checks}


def must_failures(results: dict[str, CheckResult]) -> dict[str, list[str]]:
    return {
        check: found
        for check, r in results.items()
        if (
            found := sorted(
                {
                    f"{f.json_path}: {f.failure}"
                    for f in r.findings
                    if f.severity is Severity.MUST and f.failure not in REQUEST_DEPENDENT
                }
            )
        )
    }


@pytest.mark.parametrize(
    "name",
    [n for n in recordings(RECORDED) if n.startswith(CLEAN_PROVIDERS)] if RECORDED.is_dir() else [],
)
def test_recorded_answers_of_openai_deepseek_and_groq_break_no_must_under_openai(name):
    assert must_failures(judged(name)) == {}


def test_groq_quirks_still_fail_under_strict():
    """The relaxations are the overlay's: the strict profile still reports them."""
    strict = must_failures(judged("groq--groq-text", "strict"))
    assert "$.created: changes between chunks" in strict["chunk_created_stable"]
    assert "$.service_tier: value not allowed" in " ".join(strict["response_schema"])
    relaxed = judged("groq--groq-text")["chunk_created_stable"]
    assert relaxed.verdict is Verdict.WARN  # a SHOULD under openai


def test_mistral_tool_call_deltas_without_index_still_fail():
    failures = must_failures(judged("mistral--mistral-tool-call"))
    assert (
        "$.choices[0].delta.tool_calls[0].index: a tool-call delta has no integer index"
        in (failures["tool_call_stream_deltas"])
    )


def test_mistral_content_as_an_array_still_fails():
    failures = must_failures(judged("mistral--mistral-reasoning"))
    assert failures["chunk_schema"][0].startswith("$.choices[0].delta.content: ")
    assert failures["response_schema"][0].startswith("$.choices[0].message.content: ")


def test_the_replay_server_answers_a_missing_half_with_a_404_and_streams_with_done():
    app = replay_app(Recording.load(RECORDED, "mistral--mistral-incremental-tool-call"))

    async def ask(stream: bool) -> httpx.Response:
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replay") as client:
            return await client.post("/v1/chat/completions", json={"stream": stream})

    plain = asyncio.run(ask(False))
    assert (plain.status_code, plain.json()["error"]["message"]) == (
        404,
        "recording 'mistral--mistral-incremental-tool-call' has no non-streamed body",
    )
    streamed = asyncio.run(ask(True))
    assert streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.startswith('data: {"id":')
    assert streamed.text.endswith("\n\ndata: [DONE]\n\n")
