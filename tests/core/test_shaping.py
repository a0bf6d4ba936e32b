"""How the engine shapes bodies (engine/_shaping.py, issue 19): max_tokens refused as an
unsupported parameter is resent once as max_completion_tokens and remembered; extra_body
is not sent under the openai profile."""

from __future__ import annotations

import httpx

from conformance import Contract, Endpoint, Runner
from conformance.server import ServerConfig, create_app

KEY = "sk-shaping-0001"
PROBES = ["chat", "cap_max_tokens", "stop_list", "optional_parameters"]


def runner(profile: str, *defects: str) -> Runner:
    config = ServerConfig(api_key=KEY, profile=profile, defects=frozenset(defects))
    return Runner(
        Endpoint("http://127.0.0.1/v1", api_key=KEY, model=config.models[0]),
        Contract.load(profile=profile),
        transport=httpx.ASGITransport(create_app(config)),
        concurrency=1,  # one at a time: the first refusal is learned before the next send
    )


def test_a_refused_max_tokens_is_resent_once_and_remembered_for_the_run():
    run = runner("strict", "reasoning-model")
    run.fetch(PROBES)
    sent = {key: run.exchange(key) for key in PROBES}
    assert run.requests_sent == len(PROBES) + 1  # only the first was refused, then resent
    for key, exchange in sent.items():  # each probe's own cap, under the other name
        assert "max_tokens" not in exchange.request.body, key
        assert "max_completion_tokens" in exchange.request.body, key
    assert sent["chat"].status == 200
    assert sent["stop_list"].status == 400  # stop is refused too: the checks say unsupported


def test_extra_body_is_sent_under_strict_and_not_under_openai():
    for profile, present in (("strict", True), ("openai", False)):
        run = runner(profile)
        [exchange] = run.fetch(["optional_parameters"])
        assert ("extra_body" in exchange.request.body) is present, profile
        assert exchange.status == 200
