"""The first request decides whether a run is worth it: each way of not reaching the
endpoint is one line that names what failed and what to check (protocol edge cases through
httpx.MockTransport, since DNS and routing cannot be staged on 127.0.0.1)."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from conformance._client import Timeouts
from conformance._session import Session
from conformance._settings import resolve_settings

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
