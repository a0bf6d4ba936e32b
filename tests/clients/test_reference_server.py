"""The reference server's answers read by every tested client: by default (the openai
profile: role on a choice's first delta only) all four read them right; its strict profile
(role in every delta, as the document demands) breaks openai-python's stream accumulators.
In-process (httpx.ASGITransport): the engine sends a few probes, the replay reads them.
"""

from __future__ import annotations

import httpx
import pytest

from conformance.clients import replay
from conformance.clients._impact import readiness
from conformance.contract._spec import Contract
from conformance.engine._engine import Runner
from conformance.server import DEFAULT_MODEL, ServerConfig, create_app
from conformance.wire._client import Endpoint

PROBES = ["chat", "chat_stream", "chat_stream_usage", "tools_required", "tools_required_stream"]
PYTHON = ("openai-python", "langchain-openai")


def exchanges(profile: str, mode: str = "toy") -> list:
    app = create_app(ServerConfig(api_key="sk-x", profile=profile, mode=mode, seed=7))
    runner = Runner(
        Endpoint(base_url="http://in-process.invalid/v1", api_key="sk-x", model=DEFAULT_MODEL),
        Contract.load(None, profile=profile),
        transport=httpx.ASGITransport(app),
    )
    runner.fetch(PROBES)
    return runner.exchanges


@pytest.fixture(scope="module")
def clients(request: pytest.FixtureRequest) -> tuple[str, ...] | None:
    try:
        request.getfixturevalue("node_clients")
    except pytest.skip.Exception:
        return PYTHON
    return None  # all four


@pytest.mark.parametrize("mode", ["toy", "model"])
def test_the_default_server_is_read_right_by_every_client(mode, clients):
    sent = exchanges("openai", mode)
    done = replay(sent) if clients is None else replay(sent, clients=clients)
    assert sorted(done.exchanges) == sorted(PROBES)
    assert [r.what() for r in done.breaks()] == []
    tested = {c.name for c in done.clients if c.skipped is None}
    assert tested == ({*PYTHON, "openai-node", "ai-sdk"} if clients is None else set(PYTHON))
    assert {
        name: e["status"] for name, e in readiness(done, sent).items() if name in tested
    } == dict.fromkeys(tested, "READY")


def test_the_strict_server_breaks_openai_python_on_streams_only(clients):
    sent = exchanges("strict")
    done = replay(sent) if clients is None else replay(sent, clients=clients)
    broken = sorted({(r.client, r.exchange, r.mode) for r in done.breaks()})
    assert broken == [
        ("openai-python", stream, mode)
        for stream in ("chat_stream", "chat_stream_usage", "tools_required_stream")
        for mode in (".stream()", "create(stream=True)")
    ]
    ready = readiness(done, sent)["openai-python"]
    assert (ready["status"], ready["features"]) == ("LIMITED", ["streaming"])
