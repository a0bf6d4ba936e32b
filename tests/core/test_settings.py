"""Options first, then the environment; every wrong value gets a message with the fix."""

from __future__ import annotations

import pytest

from conformance import ConfigError
from conformance.run._settings import resolve_settings


def test_nothing_given_means_the_embedded_server():
    settings = resolve_settings(env={})
    assert settings.embedded
    assert settings.api_key is None
    assert settings.profile == "openai"  # the clients judge impact (README)


def test_options_win_over_the_environment():
    env = {
        "CONFORMANCE_BASE_URL": "http://127.0.0.1:1/v1",
        "CONFORMANCE_API_KEY": "env-key",
        "CONFORMANCE_MODEL": "env-model",
    }
    settings = resolve_settings(
        base_url="http://127.0.0.1:2/v1", api_key="opt-key", model="opt-model", env=env
    )
    assert (settings.base_url, settings.api_key, settings.model) == (
        "http://127.0.0.1:2/v1",
        "opt-key",
        "opt-model",
    )


def test_conformance_variables_win_over_openai_variables():
    env = {
        "CONFORMANCE_BASE_URL": "http://127.0.0.1:1/v1",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "CONFORMANCE_API_KEY": "c-key",
        "OPENAI_API_KEY": "o-key",
        "CONFORMANCE_MODEL": "m",
    }
    settings = resolve_settings(env=env)
    assert (settings.base_url, settings.api_key) == ("http://127.0.0.1:1/v1", "c-key")


def test_openai_variables_are_the_last_fallback():
    env = {
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_KEY": "o-key",
        "CONFORMANCE_MODEL": "m",
    }
    settings = resolve_settings(env=env)
    assert (settings.base_url, settings.api_key) == ("http://127.0.0.1:9/v1", "o-key")


def test_the_key_is_not_in_the_repr():
    settings = resolve_settings(api_key="sk-canary-1234", env={})
    assert "sk-canary-1234" not in repr(settings)


@pytest.mark.parametrize("url", ["localhost:8000/v1", "ftp://host/v1", "http:///v1", "not a url"])
def test_a_base_url_that_is_not_http_is_refused(url):
    with pytest.raises(ConfigError) as info:
        resolve_settings(base_url=url, model="m", env={})
    assert str(info.value) == (
        f"--base-url {url!r} is not an http(s) URL with a host. Pass the endpoint's base URL, "
        "for example --base-url https://api.example.com/v1."
    )


def test_a_base_url_needs_a_model():
    with pytest.raises(ConfigError) as info:
        resolve_settings(base_url="http://127.0.0.1:8000/v1", env={})
    assert str(info.value) == (
        "--model is missing: with --base-url, name the model to test, for example "
        "--model meta-llama/Llama-3.3-70B-Instruct (or set CONFORMANCE_MODEL)."
    )


def test_unknown_profile_and_bad_concurrency_are_refused():
    with pytest.raises(ConfigError) as info:
        resolve_settings(profile="loose", env={})
    assert str(info.value) == (
        "--profile 'loose' is unknown. Use 'strict' (the document as written) or 'openai' "
        "(the document with schemas/openai.overlay.yaml applied, see schemas/ERRATA.md)."
    )
    with pytest.raises(ConfigError) as info:
        resolve_settings(concurrency=0, env={})
    assert str(info.value) == "--concurrency 0 must be at least 1."


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://[::1", "is not a valid URL (Invalid IPv6 URL)"),
        ("http://h:99999/v1", "is not a valid URL (Port out of range 0-65535)"),
        (
            "http://h:abc/v1",
            "is not a valid URL (Port could not be cast to integer value as 'abc')",
        ),
    ],
)
def test_a_malformed_base_url_is_one_message_naming_the_option_value_and_fix(url, why):
    with pytest.raises(ConfigError) as info:
        resolve_settings(base_url=url, model="m", env={})
    assert str(info.value) == (
        f"--base-url {url!r} {why}. Pass the endpoint's base URL, for example --base-url "
        "https://api.example.com/v1; an IPv6 host goes in brackets: http://[::1]:8000/v1."
    )


def test_a_control_character_in_the_base_url_is_named():
    with pytest.raises(ConfigError) as info:
        resolve_settings(base_url="http://h/v1\x07", model="m", env={})
    assert str(info.value) == (
        "--base-url 'http://h/v1\\x07' contains '\\x07' at position 11: a URL holds no control "
        "characters. Pass the endpoint's base URL, for example --base-url "
        "https://api.example.com/v1."
    )


def test_the_query_of_a_base_url_is_kept_on_every_request():
    from conformance.wire._client import Endpoint

    endpoint = Endpoint("https://h/openai/v1/?api-version=2024-10#frag", model="m")
    assert endpoint.chat_url() == "https://h/openai/v1/chat/completions?api-version=2024-10"
