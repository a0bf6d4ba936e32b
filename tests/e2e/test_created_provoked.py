"""`created` can change only in a stream that spans a second (issue 19, item 14): a paced
reference server provokes it, in toy and model mode, and the check then PASSes or, with
the server stamping each chunk with its own clock, FAILs. The pacing is the server's
``chunk_delay_s`` (a stream of a dozen events takes over a second, whatever the load:
the sleeps are the floor); only ``chunk_created_stable`` is judged, on its own probes."""

from __future__ import annotations

import pytest

from conformance import Contract, Endpoint, Runner, Verdict
from conformance.checks import get_check
from conformance.server import ServerConfig, serve_in_thread

KEY = "sk-created-0001"


def created_result(mode: str, *defects: str, delay: float):
    """``chunk_created_stable`` judged over a real socket: an in-process transport hands
    over a stream whole, so only a socket shows how long its events took."""
    config = ServerConfig(
        api_key=KEY, mode=mode, seed=3, chunk_delay_s=delay, defects=frozenset(defects)
    )
    with serve_in_thread(config) as server:
        runner = Runner(
            Endpoint(server.base_url, api_key=KEY, model=config.models[0]),
            Contract.load(profile="strict"),
            trials=1,
            concurrency=16,
        )
        return runner.evaluate(get_check("chunk_created_stable"))


@pytest.mark.parametrize("mode", ["toy", "model"])
def test_an_unpaced_stream_does_not_provoke_created(mode):
    result = created_result(mode, delay=0.0)
    assert result.verdict is Verdict.SKIP
    assert result.reason.startswith("not provoked: chat_stream: the stream's events spanned ")


@pytest.mark.parametrize("mode", ["toy", "model"])
def test_a_stream_spanning_a_second_provokes_created_and_a_faithful_server_passes(mode):
    result = created_result(mode, delay=0.15)
    assert result.verdict is Verdict.PASS
    assert result.provoked == 1


@pytest.mark.parametrize("mode", ["toy", "model"])
def test_created_changing_is_found_whatever_the_span(mode):
    """created-per-chunk stamps each chunk on a clock that crosses a second mid-stream."""
    result = created_result(mode, "created-per-chunk", delay=0.0)
    assert result.verdict is Verdict.FAIL
    assert {(f.json_path, f.failure) for f in result.findings} == {
        ("$.created", "changes between chunks")
    }
