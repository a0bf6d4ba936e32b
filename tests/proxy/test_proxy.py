"""The proxy in-process: the application behind ``httpx.ASGITransport``, the upstream a mock
or the reference server's app. Bytes pass unchanged, the key passes through and is never
kept, bad input from either side is a finding or an inconclusive exchange (never a crash),
and the defects of the upstream show in the tally."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from conformance.contract._spec import Contract
from conformance.proxy._app import Proxy
from conformance.proxy._judging import Judging
from conformance.proxy._observe import Recorded, build, from_bytes, is_chat
from conformance.proxy._tally import Tally
from conformance.server import DEFAULT_MODEL, ServerConfig, create_app
from conformance.wire._client import MAX_BODY_BYTES

KEY = "sk-proxy-canary-5a4b3c2d1e"
STREAM = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}'
    b"\n\n"
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    b"data: [DONE]\n\n"
)
UPSTREAM = "http://upstream.invalid/v1"


def chat(stream: bool = False, **extra: object) -> dict[str, object]:
    return {
        "model": DEFAULT_MODEL,
        "messages": [{"role": "user", "content": "a private prompt"}],
        **({"stream": True} if stream else {}),
        **extra,
    }


class Collected:
    """The proxy's sink for a test: the exchanges it handed on, built as the judge builds them."""

    def __init__(self) -> None:
        self.recorded: list[tuple[Recorded, str]] = []
        self.others = 0

    def __call__(self, recorded: Recorded, exchange_id: str) -> None:
        self.recorded.append((recorded, exchange_id))

    def other(self) -> None:
        self.others += 1


async def through(
    upstream: httpx.AsyncBaseTransport, requests: list[tuple[str, dict[str, object] | bytes]]
) -> tuple[list[httpx.Response], Collected]:
    sink = Collected()
    proxy = Proxy(UPSTREAM, sink, other=sink.other, transport=upstream)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(proxy), base_url="http://proxy.invalid"
    ) as client:
        out = []
        for path, body in requests:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            out.append(
                await client.post(
                    path,
                    content=content,
                    headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
                )
            )
    await proxy.aclose()
    return out, sink


def test_the_application_gets_the_upstreams_bytes_and_headers_and_the_key_passes_through():
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "x-request-id": "r-1", "server": "up"},
            content=STREAM,
        )

    (response,), sink = asyncio.run(
        through(httpx.MockTransport(upstream), [("/v1/chat/completions", chat(stream=True))])
    )
    assert response.content == STREAM
    assert response.headers["x-request-id"] == "r-1"
    assert response.headers["server"] == "up"
    sent = seen[0]
    assert str(sent.url) == "http://upstream.invalid/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    # the application's headers, as it sent them: nothing of the proxy's own added
    mine = ("host", "content-length", "connection")  # set per hop (RFC 9110 7.6.1)
    assert [(k, v) for k, v in sent.headers.multi_items() if k not in mine] == [
        (k, v) for k, v in response.request.headers.multi_items() if k not in mine
    ]
    assert json.loads(sent.content) == chat(stream=True)
    exchange = build(*sink.recorded[0])
    assert exchange.streamed
    assert [e.data for e in exchange.events][-1] == "[DONE]"
    assert KEY not in json.dumps(exchange.to_dict())


def test_a_path_without_the_upstreams_prefix_is_appended_to_it():
    proxy = Proxy("https://api.example.com/v1/", lambda r, i: None)
    assert proxy.target("/chat/completions", b"") == "https://api.example.com/v1/chat/completions"
    assert proxy.target("/v1/chat/completions", b"a=1") == (
        "https://api.example.com/v1/chat/completions?a=1"
    )


def test_a_get_of_the_chat_completions_path_is_forwarded_and_not_judged_as_a_chat():
    """``GET /v1/chat/completions?limit=10`` lists stored completions: its 200 list is not a
    chat answer, and judging it as one would FAIL invalid_request_rejected falsely."""

    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": [], "has_more": False})

    async def go() -> tuple[httpx.Response, Collected]:
        sink = Collected()
        proxy = Proxy(UPSTREAM, sink, other=sink.other, transport=httpx.MockTransport(upstream))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(proxy), base_url="http://proxy.invalid"
        ) as client:
            response = await client.get("/v1/chat/completions?limit=10")
        await proxy.aclose()
        return response, sink

    response, sink = asyncio.run(go())
    assert response.status_code == 200
    assert response.json()["object"] == "list"
    assert sink.recorded == []
    assert sink.others == 1
    assert is_chat("POST", "/v1/chat/completions")
    assert not is_chat("GET", "/v1/chat/completions?limit=10")


def test_an_unreachable_upstream_is_a_502_and_an_inconclusive_exchange_and_the_proxy_goes_on():
    calls = iter([httpx.ConnectError("refused"), None])

    def upstream(request: httpx.Request) -> httpx.Response:
        error = next(calls)
        if error is not None:
            raise error
        return httpx.Response(200, json={"object": "list", "data": []})

    (refused, models), sink = asyncio.run(
        through(
            httpx.MockTransport(upstream),
            [("/v1/chat/completions", chat()), ("/v1/models", b"")],
        )
    )
    assert refused.status_code == 502
    assert refused.json()["error"]["message"] == (
        "conformance proxy: the upstream could not be reached: ConnectError: refused"
    )
    assert models.status_code == 200
    assert sink.others == 1
    tally = Tally(Contract.load(None, profile="strict"), upstream=UPSTREAM, source="proxy")
    assert tally.add(build(*sink.recorded[0])) is False
    assert tally.observed.inconclusive == 1


def test_an_upstream_that_breaks_midway_ends_the_answer_and_is_not_judged():
    class Broken(httpx.AsyncByteStream):
        async def __aiter__(self):  # type: ignore[override]
            yield STREAM[:40]
            raise httpx.ReadError("connection reset")

    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Broken())

    (response,), sink = asyncio.run(
        through(httpx.MockTransport(upstream), [("/v1/chat/completions", chat(stream=True))])
    )
    assert response.content == STREAM[:40]
    exchange = build(*sink.recorded[0])
    assert exchange.error == ("the upstream broke the answer midway: ReadError: connection reset")


def test_a_body_over_the_cap_is_forwarded_whole_and_kept_only_in_part():
    huge = b'{"x":"' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'

    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=huge)

    (response,), sink = asyncio.run(
        through(httpx.MockTransport(upstream), [("/v1/chat/completions", chat())])
    )
    assert response.content == huge
    exchange = build(*sink.recorded[0])
    assert exchange.error == f"body exceeded {MAX_BODY_BYTES} bytes; stopped reading"
    assert len(exchange.body) <= 8 * 1024


@pytest.mark.parametrize("mode", ["toy", "model"])
def test_the_upstreams_defects_are_found_in_the_traffic_and_the_reports_written(tmp_path, mode):
    config = ServerConfig(
        mode=mode, seed=1, defects=frozenset({"bad-usage-total", "missing-chunk-id"})
    )
    requests: list[tuple[str, dict[str, object] | bytes]] = [
        ("/v1/chat/completions", chat()),
        ("/v1/chat/completions", chat(stream=True, stream_options={"include_usage": True})),
        ("/v1/chat/completions", {"model": DEFAULT_MODEL, "messages": "not a list"}),
    ]
    _, sink = asyncio.run(through(httpx.ASGITransport(create_app(config)), requests))
    published: list[dict[str, object]] = []
    tally = Tally(Contract.load(None, profile="strict"), upstream=UPSTREAM, source="proxy")
    judging = Judging(lambda: tally, published.append, every=2, record=tmp_path / "record.jsonl")
    for recorded, exchange_id in sink.recorded:
        judging.submit(recorded, exchange_id)
    data = judging.stop()
    assert len(published) == 2  # after two exchanges, and at the end
    failed = {c["id"] for c in data["checks"] if c["verdict"] == "FAIL"}
    assert {"usage_arithmetic", "chunk_schema"} <= failed
    assert data["observed"]["exchanges"] == 3
    assert data["observed"]["features"] == {"stream": 1, "stream usage": 1}
    written = (tmp_path / "record.jsonl").read_text()
    assert "a private prompt" not in written
    assert KEY not in written
    assert "a private prompt" not in json.dumps(data)
    assert KEY not in json.dumps(data)
    assert len(written.splitlines()) == 3


def test_no_credential_of_the_application_reaches_the_reports_or_the_record(tmp_path: Path):
    """Not only the API key: a cookie, a gateway's key, a key in the query string, and the
    upstream URL's userinfo are kept out of results.json and the --record file (whose
    request headers keep their value only for a short list of harmless ones)."""
    secrets = {
        "cookie": "session=cookie-canary-31415926; theme=dark",
        "cf-aig-authorization": "Bearer cf-gateway-canary-2718",
        "helicone-auth": "Bearer helicone-canary-1618",
        "x-custom-header": "custom-canary-1414",
    }
    seen: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM)

    async def go() -> Collected:
        sink = Collected()
        proxy = Proxy(
            "https://someuser:userinfo-canary-pw@upstream.invalid/v1",
            sink,
            transport=httpx.MockTransport(upstream),
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(proxy), base_url="http://proxy.invalid"
        ) as client:
            await client.post(
                "/v1/chat/completions?key=query-canary-1732&api-version=2024-02-01",
                content=json.dumps(chat(stream=True)).encode(),
                headers={
                    "authorization": f"Bearer {KEY}",
                    "content-type": "application/json",
                    "user-agent": "OpenAI/Python 1.0",
                    **secrets,
                },
            )
        await proxy.aclose()
        return sink

    sink = asyncio.run(go())
    # forwarded unchanged: the upstream gets every credential
    assert seen[0].headers["cookie"] == secrets["cookie"]
    assert seen[0].url.params["key"] == "query-canary-1732"
    tally = Tally(Contract.load(None, profile="strict"), upstream=UPSTREAM, source="proxy")
    judging = Judging(lambda: tally, lambda data: None, record=tmp_path / "r.jsonl")
    judging.submit(*sink.recorded[0])
    data = json.dumps(judging.stop())
    written = (tmp_path / "r.jsonl").read_text()
    canaries = [
        KEY, "cookie-canary-31415926", "cf-gateway-canary-2718", "helicone-canary-1618",
        "custom-canary-1414", "query-canary-1732", "userinfo-canary-pw", "someuser",
    ]  # fmt: skip
    for canary in canaries:
        assert canary not in data, canary
        assert canary not in written, canary
    request = json.loads(written)["request"]
    assert request["url"] == (
        "https://upstream.invalid/v1/chat/completions?key=[REDACTED]&api-version=[REDACTED]"
    )
    assert request["headers"]["content-type"] == "application/json"
    assert request["headers"]["user-agent"] == "OpenAI/Python 1.0"
    assert request["headers"]["authorization"] == "Bearer [REDACTED]"
    for name in secrets:
        assert request["headers"][name] == "[REDACTED]"


def test_a_credential_echoed_by_the_upstream_is_redacted_too():
    exchange = from_bytes(
        "har#0",
        url="https://u:userinfo-canary-pw@api.example.com/v1/chat/completions?key=query-canary-1",
        request_headers={"Cookie": "a=cookie-canary-2; b=cookie-canary-3"},
        status=400,
        headers={"content-type": "application/json"},
        body=b'{"error": {"message": "bad cookie-canary-2 query-canary-1 userinfo-canary-pw"}}',
    )
    kept = json.dumps(exchange.to_dict())
    for canary in ("userinfo-canary-pw", "query-canary-1", "cookie-canary-2", "cookie-canary-3"):
        assert canary not in kept, canary


def test_with_keep_bodies_the_prompts_are_kept_and_the_record_judges_again(tmp_path: Path):
    def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=STREAM)

    _, sink = asyncio.run(
        through(httpx.MockTransport(upstream), [("/v1/chat/completions", chat(stream=True))])
    )
    tally = Tally(
        Contract.load(None, profile="strict"), upstream=UPSTREAM, source="proxy", keep_bodies=True
    )
    judging = Judging(lambda: tally, lambda data: None, record=tmp_path / "r.jsonl")
    judging.submit(*sink.recorded[0])
    live = judging.stop()
    line = json.loads((tmp_path / "r.jsonl").read_text())
    assert line["request"]["body"] == chat(stream=True)
    assert line["response"]["body"] == STREAM.decode()
    from conformance.proxy._recorded import read

    again = Tally(Contract.load(None, profile="strict"), upstream=UPSTREAM, source="recording")
    for exchange in read(tmp_path / "r.jsonl"):
        again.add(exchange)  # type: ignore[arg-type]
    verdicts = {c["id"]: c["verdict"] for c in again.results()["checks"]}
    assert verdicts == {c["id"]: c["verdict"] for c in live["checks"]}


def test_a_check_that_breaks_on_an_exchange_does_not_stop_the_judging(monkeypatch):
    tally = Tally(Contract.load(None, profile="strict"), upstream=UPSTREAM, source="proxy")

    def broken(*args: object, **kwargs: object) -> object:
        raise KeyError("a bug")

    monkeypatch.setattr(tally._judge, "outcomes", broken)
    recorded = Recorded("POST", UPSTREAM, {}, json.dumps(chat()).encode(), status=200)
    recorded.headers = {"content-type": "application/json"}
    recorded.take(b'{"choices": []}', 0.0)
    recorded.ended = True
    assert tally.add(build(recorded, "observed-1")) is False
    data = tally.results()
    assert data["observed"]["inconclusive"] == 1
    assert {c["reason"] for c in data["checks"]} == {
        "nothing could be concluded: a check failed on this exchange: KeyError (1)"
    }


def test_a_busy_port_is_one_line_naming_the_fix(tmp_path):
    import socket

    from click.testing import CliRunner

    from conformance.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            main,
            ["proxy", "--upstream", UPSTREAM, "--port", str(port), "--report-dir", str(tmp_path)],
        )
    assert result.exit_code == 2
    assert result.stderr == (
        f"conformance: error: cannot listen on 127.0.0.1:{port}: Address already in use. Pass "
        "another --port (0 picks a free one) or stop the program using this one.\n"
    )
