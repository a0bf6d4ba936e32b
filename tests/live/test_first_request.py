"""The first request decides whether a run is worth it: each way of not reaching the
endpoint is one line that names what failed and what to check (protocol edge cases through
httpx.MockTransport, since DNS and routing cannot be staged on 127.0.0.1)."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from conformance.run._session import Session
from conformance.run._settings import resolve_settings
from conformance.wire._client import Timeouts

URL = "https://api.example.test/v1"


def preflight_with(handler, **settings):
    chosen = resolve_settings(base_url=URL, model="m", api_key="sk-test", env={}, **settings)
    with Session(chosen, transport=httpx.MockTransport(handler)) as session:
        return session.preflight(), session


def failing(exc):
    def handler(request):
        raise exc

    return handler


def caused(error, cause):
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("exc", "line"),
    [
        (
            caused(httpx.ConnectError("x"), socket.gaierror(-2, "Name or service not known")),
            "could not resolve the host 'api.example.test' (check --base-url): Name or service "
            "not known. Check the host name in --base-url, and DNS.",
        ),
        (
            httpx.ConnectTimeout("timed out"),
            "connect timeout: no connection to api.example.test:443 within 10s. Check the host "
            "and port in --base-url, any firewall or proxy in between, or raise "
            "--connect-timeout.",
        ),
        (
            caused(httpx.ConnectError("x"), ssl.SSLError(1, "[SSL] wrong version number")),
            "TLS handshake with api.example.test:443 failed: [SSL] wrong version number. Check "
            "the endpoint's certificate (and the system's CA bundle, or SSL_CERT_FILE); "
            "--insecure skips verification, for test servers only.",
        ),
    ],
)
def test_each_way_of_not_reaching_the_endpoint_is_one_line_with_what_to_check(exc, line):
    problem, session = preflight_with(failing(exc))
    assert problem == f"cannot reach the endpoint at {URL}/chat/completions: {line}"
    assert session.runner.requests_sent == 1  # not retried: it would fail the same way


def test_a_connection_dropped_before_any_answer_is_retried():
    calls = []

    def handler(request):
        calls.append(1)
        if len(calls) == 1:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return httpx.Response(200, json={"choices": []})

    problem, session = preflight_with(handler, timeouts=Timeouts())
    assert problem is None
    exchange = session.runner.exchange("chat")
    assert exchange.status == 200
    assert exchange.attempts == 2
    assert exchange.retries[0].startswith(
        "attempt 1: the server broke the HTTP exchange before a response: Server disconnected "
        "without sending a response.; waited "
    )


def test_every_request_refused_401_is_one_finding_authentication_rejected():
    problem, session = preflight_with(
        lambda request: httpx.Response(401, json={"error": {"message": "no"}})
    )
    assert problem == (
        f"authentication rejected: {URL}/chat/completions answered 401 to the API key given. "
        "Check --api-key (or CONFORMANCE_API_KEY / OPENAI_API_KEY)."
    )
    assert session.runner.requests_sent == 1


def models_and(chat):
    """A handler: ``GET /v1/models`` lists two models, ``chat`` answers the chat requests."""
    seen = []

    def handler(request):
        seen.append((request.method, str(request.url), request.headers.get("authorization")))
        if request.method == "GET" and request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": "a"}, {"id": "b"}]})
        return chat(request)

    return handler, seen


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"error": {"message": "The model 'nope' does not exist", "code": "model_not_found"}}),
        (404, {"error": {"message": "Not Found"}}),  # not named, but not in the listing either
        (400, {"error": {"message": "Invalid model name passed in model=nope."}}),
        (422, {"detail": [{"msg": "model 'nope' is not served", "loc": ["body", "model"]}]}),
    ],
)
def test_a_model_the_endpoint_does_not_serve_stops_with_one_line_naming_it_and_the_listed(
    status, body
):
    handler, seen = models_and(lambda request: httpx.Response(status, json=body))
    stop, _ = stop_with(handler, model="nope")
    message = body["error"]["message"] if "error" in body else body["detail"][0]["msg"]
    assert stop.message == (
        f"model 'nope' not found: the endpoint answered {status} ({message}). It lists: a, b. "
        "Pass one of them with --model."
    )
    assert stop.exit_code == 2
    assert seen[-1] == ("GET", f"{URL}/models", "Bearer sk-test")  # the same host, the key


def test_without_a_listing_the_model_line_says_to_check_the_model():
    def handler(request):
        if request.method == "GET":
            return httpx.Response(401, json={"error": {"message": "no"}})
        return httpx.Response(400, json={"error": {"message": "unknown model: nope"}})

    stop, _ = stop_with(handler, model="nope")
    assert (stop.message, stop.exit_code) == (
        "model 'nope' not found: the endpoint answered 400 (unknown model: nope). Check --model "
        "(GET /models did not list the endpoint's models).",
        2,
    )


def test_a_400_that_does_not_name_the_model_is_left_to_the_checks():
    handler, _ = models_and(
        lambda request: httpx.Response(400, json={"error": {"message": "bad max_tokens"}})
    )
    stop, _ = stop_with(handler, model="m")  # "m" is inside "max_tokens": not a name
    assert stop is None


def test_a_404_for_a_listed_model_points_at_the_base_url():
    handler, _ = models_and(lambda request: httpx.Response(404, text="Not Found"))
    stop, _ = stop_with(handler, model="a")
    assert (stop.message, stop.exit_code) == (
        f"the endpoint at {URL}/chat/completions answered 404 Not Found (Not Found): either no "
        "chat completions API is at this address (check --base-url; it usually ends in /v1) or "
        "model 'a' is not served there (check --model).",
        3,
    )


def test_the_endpoints_words_in_the_model_line_are_escaped():
    handler, _ = models_and(
        lambda request: httpx.Response(
            404, json={"error": {"message": "\x1b[2Jno model nope\x1b]0;x\x07", "code": "x"}}
        )
    )
    stop, _ = stop_with(handler, model="nope")
    assert "\x1b" not in stop.message
    assert "(\\x1b[2Jno model nope\\x1b]0;x\\x07)" in stop.message


@pytest.mark.parametrize(
    ("base", "location", "fix"),
    [
        (
            "http://api.example.test/v1",
            "https://api.example.test/v1/chat/completions",
            "The endpoint wants https: use https:// in --base-url.",
        ),
        (
            "https://api.example.test",
            "https://api.example.test/v1/chat/completions",
            "The endpoint's API lives under /v1: end --base-url with /v1.",
        ),
        (
            "https://api.example.test/v1",
            "https://elsewhere.example.test/v1/chat/completions",
            "Check --base-url (scheme, host and the /v1 path); if the new address is the "
            "endpoint's and you trust it, use it as --base-url.",
        ),
    ],
)
def test_a_redirect_stops_after_the_preflight_saying_where_and_the_likely_fix(base, location, fix):
    seen = []

    def handler(request):
        seen.append(str(request.url))
        return httpx.Response(307, headers={"location": location})

    chosen = resolve_settings(
        base_url=base, model="m", api_key="sk-test", env={}, allow_insecure_http=True
    )
    with Session(chosen, transport=httpx.MockTransport(handler)) as session:
        stop = session.preflight_stop()
    assert (stop.message, stop.exit_code) == (
        f"the endpoint at {base}/chat/completions redirects (307) to {location}: the request "
        f"was not followed (the API key is not sent on to another address). {fix}",
        3,
    )
    assert seen == [f"{base}/chat/completions"]  # nothing went to the new address


def stop_with(handler, **settings):
    chosen = resolve_settings(base_url=URL, api_key="sk-test", env={}, **settings)
    with Session(chosen, transport=httpx.MockTransport(handler)) as session:
        return session.preflight_stop(), session
