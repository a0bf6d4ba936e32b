"""Real providers' recorded answers (/work/shared/recorded: the Vercel AI SDK's fixtures,
Apache-2.0) replayed through every tested client and judged by the single-exchange checks
(``run._recorded``): which clients break on which recording and why, measured; every
break named by a finding; no finding on an answer every client reads said to break one.
"""

from __future__ import annotations

import pytest

from conformance.clients._impact import CLIENT_CHECK, impact, linked
from conformance.run._recorded import Judged, judge_recordings
from tests.conftest import RECORDED

PYTHON = ("openai-python", "langchain-openai")

pytestmark = pytest.mark.skipif(not RECORDED.is_dir(), reason=f"{RECORDED} is not here")

# What each client did, measured with openai 3.63.0, langchain-openai 1.8.1, openai-node
# 6.49.0 and ai 6.0.333 (@ai-sdk/openai-compatible 2.0.92). Recordings not listed: read right.
BREAKS = {
    "mistral--mistral-incremental-tool-call.stream": {
        ("openai-node", "stream", "OpenAIError"),
    },
    "mistral--mistral-reasoning.stream": {
        ("openai-python", "create(stream=True)", "RuntimeError"),
        ("openai-python", ".stream()", "RuntimeError"),
    },
    "mistral--mistral-reasoning": {("openai-python", "create", "content")},
    "mistral--mistral-tool-call.stream": {
        ("openai-node", "stream", "tool_calls"),
        ("openai-python", "create(stream=True)", "TypeError"),
        ("openai-python", ".stream()", "TypeError"),
    },
}


@pytest.fixture(scope="module")
def judged(request: pytest.FixtureRequest) -> tuple[list[Judged], object]:
    try:
        request.getfixturevalue("node_clients")
        clients = None  # all four
    except pytest.skip.Exception:
        clients = PYTHON
    return judge_recordings(RECORDED, clients=clients)


def what(judged_one: Judged) -> set[tuple[str, str, str]]:
    return {
        (r.client, r.mode, r.error["type"] if r.error else r.differences[0].topic)
        for r in judged_one.breaks
    }


def test_every_recording_is_read_by_every_client_and_the_breaks_are_as_measured(judged):
    found, replayed = judged
    assert len(found) == 22
    tested = set(replayed.tested())
    expected = {name: {b for b in breaks if b[0] in tested} for name, breaks in BREAKS.items()}
    assert {j.name: what(j) for j in found if j.breaks} == {k: v for k, v in expected.items() if v}


def test_every_client_break_is_named_by_a_finding(judged):
    found, _ = judged
    for one in found:
        for run in one.breaks:
            others = [f for f in one.findings if f.check_id != CLIENT_CHECK]
            own = [
                f
                for f in one.findings
                if f.check_id == CLIENT_CHECK and f.kind.startswith(f"{run.client} {run.mode} ")
            ]
            assert linked(run, others) or own, (one.name, run.what())


def test_no_finding_on_a_recording_every_client_reads_is_said_to_break_one(judged):
    found, replayed = judged
    for one in found:
        if not one.breaks:
            assert all(impact(f, replayed).breaks == [] for f in one.findings), one.name


def test_the_suite_names_mistrals_content_array_where_openai_python_misreads_it(judged):
    found, replayed = judged
    (one,) = [j for j in found if j.name == "mistral--mistral-reasoning"]
    assert one.row(replayed)["breaking"] == [
        "response_schema: matches none of the allowed shapes (string or null)"
    ]
