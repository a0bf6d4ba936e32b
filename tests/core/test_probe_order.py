"""Probe.after: a probe goes out only once the probes it names are answered, even when the
engine sends everything else concurrently; and those probes are sent when not asked for."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from conformance import Contract, Endpoint, Runner
from conformance.checks import get_probe
from conformance.checks._registry import Probe, probe

AFTER = get_probe("chat_after_invalid")


def recording_transport(log: list[tuple[str, str]]) -> httpx.MockTransport:
    """Every request but the plain chat is refused, slowly; log starts and ends."""

    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        name = json.dumps(body, sort_keys=True)
        log.append(("start", name))
        valid = body == AFTER.body("m")
        await asyncio.sleep(0 if valid else 0.02)
        log.append(("end", name))
        if not valid:
            return httpx.Response(422, json={"detail": []})
        return httpx.Response(200, json={"choices": []})

    return httpx.MockTransport(handler)


def test_a_probe_with_after_goes_out_once_all_of_them_are_answered():
    log: list[tuple[str, str]] = []
    runner = Runner(
        Endpoint("http://127.0.0.1:9/v1", model="m"),
        Contract.load(),
        transport=recording_transport(log),
        concurrency=16,
    )
    runner.fetch(["chat_after_invalid"])  # its prerequisites are sent too
    assert set(runner._exchanges) == {*AFTER.after, AFTER.id}
    assert len(AFTER.after) == 9
    plain = json.dumps(AFTER.body("m"), sort_keys=True)
    starts = [name for kind, name in log if kind == "start"]
    assert starts[-1] == plain  # sent last
    assert starts.count(plain) == 1
    first_plain = log.index(("start", plain))
    ends_before = [name for kind, name in log[:first_plain] if kind == "end"]
    assert len(ends_before) == len(AFTER.after)  # every prerequisite was answered first
    assert runner.exchange("chat_after_invalid").status == 200
    assert {runner.exchange(p).status for p in AFTER.after} == {422}


def test_prerequisites_already_sent_are_not_sent_again():
    log: list[tuple[str, str]] = []
    runner = Runner(
        Endpoint("http://127.0.0.1:9/v1", model="m"),
        Contract.load(),
        transport=recording_transport(log),
    )
    runner.fetch(list(AFTER.after))
    sent = len(log)
    runner.fetch(["chat_after_invalid"])
    assert len(log) == sent + 2  # start and end of the one new request


def test_after_may_only_name_probes_registered_before():
    with pytest.raises(ValueError, match=r"^probe 'order_test' is to be sent after") as err:
        probe(Probe("order_test", "d", lambda m: {}, after=("chat", "no_such_probe")))
    assert str(err.value) == (
        "probe 'order_test' is to be sent after unknown probes ['no_such_probe']"
    )
