"""Where the endpoint, key and model come from: options first, then the environment."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from conformance._errors import ConfigError
from conformance.contract._spec import unknown_profile
from conformance.engine._evidence import DEFAULT_EVIDENCE_TOKENS
from conformance.wire._client import Timeouts, check_base_url
from conformance.wire._ratelimit import RateLimiter
from conformance.wire._retry import RetryPolicy

BASE_URL_VARS = ("CONFORMANCE_BASE_URL", "OPENAI_BASE_URL")
API_KEY_VARS = ("CONFORMANCE_API_KEY", "OPENAI_API_KEY")
MODEL_VARS = ("CONFORMANCE_MODEL",)
# Probes whose answer depends on what the model samples are sent this many times by default
# (bench/bench_stability.py measures the choice: verdicts stable across runs of a sampling
# server, and intermittent defects found in every run, under 20,000 tokens).
DEFAULT_TRIALS = 4
MAX_TRIALS = 20


@dataclass(frozen=True)
class Settings:
    """A resolved run configuration. ``base_url`` None means: use the embedded server."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    spec: Path | None = None
    profile: str = "openai"  # the clients judge impact; strict is the document verbatim
    concurrency: int = 8
    trials: int = DEFAULT_TRIALS  # sends of each probe whose answer depends on sampling
    max_requests: int | None = None  # hard ceilings for the whole run; None: no ceiling
    max_tokens: int | None = None
    rate_limit: str | None = None  # e.g. "60/m": requests spaced evenly, before sending
    retries: int = 3  # more attempts after a 429/502/503/504 or a dropped connection
    max_retry_wait: float = 60.0  # the longest Retry-After honoured; longer: give up
    timeouts: Timeouts = field(default_factory=Timeouts)
    insecure: bool = False  # TLS certificates are not verified (--insecure)
    allow_insecure_http: bool = False  # a key may go over plain http to a remote host
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers (--header)
    expect_auth: bool = False  # an endpoint that accepts any key FAILs the auth checks
    evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS  # tokens for trials past --trials
    clients: bool = True  # replay every answer through the tested clients (--no-clients)

    @property
    def embedded(self) -> bool:
        return self.base_url is None


def _first(value: str | None, names: tuple[str, ...], env: Mapping[str, str]) -> str | None:
    if value:
        return value
    for name in names:
        if env.get(name):
            return env[name]
    return None


def resolve_settings(
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    model: str | None = None,
    spec: str | Path | None = None,
    profile: str = "openai",
    concurrency: int = 8,
    trials: int = DEFAULT_TRIALS,
    max_requests: int | None = None,
    max_tokens: int | None = None,
    rate_limit: str | None = None,
    retries: int = 3,
    max_retry_wait: float = 60.0,
    timeouts: Timeouts = Timeouts(),  # noqa: B008 - frozen
    insecure: bool = False,
    allow_insecure_http: bool = False,
    headers: tuple[str, ...] = (),
    expect_auth: bool = False,
    evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS,
    env: Mapping[str, str] | None = None,
    clients: bool = True,
) -> Settings:
    """Fill gaps from the environment and check every value; raise ``ConfigError`` if wrong."""
    env = os.environ if env is None else env
    url = _first(base_url, BASE_URL_VARS, env)
    if url is not None:
        url = url.strip()
        check_base_url(url)
    chosen_model = _first(model, MODEL_VARS, env)
    if url is not None and not chosen_model:
        raise ConfigError(
            "--model is missing: with --base-url, name the model to test, for example "
            "--model meta-llama/Llama-3.3-70B-Instruct (or set CONFORMANCE_MODEL)."
        )
    unknown = unknown_profile(profile, name="--profile")
    if unknown is not None:
        raise ConfigError(unknown)
    if concurrency < 1:
        raise ConfigError(f"--concurrency {concurrency} must be at least 1.")
    if not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(
            f"--trials {trials} is out of range: pass 1 to {MAX_TRIALS} (each trial sends "
            "every sampled probe once more; 1 sends each probe once)."
        )
    if evidence_tokens < 0:
        raise ConfigError(
            f"--evidence-tokens {evidence_tokens} must be at least 0 (0 sends each sampled "
            "probe --trials times and no more)."
        )
    for name, ceiling in (("--max-requests", max_requests), ("--max-tokens", max_tokens)):
        if ceiling is not None and ceiling < 1:
            raise ConfigError(f"{name} {ceiling} must be at least 1 (leave it out for no ceiling).")
    key = _first(api_key, API_KEY_VARS, env)
    if url is not None and key and not allow_insecure_http and not _safe_for_keys(url):
        raise ConfigError(
            f"--base-url {url!r} is plain http to a host that is not this machine: the API "
            "key would cross the network unencrypted. Use https, or pass "
            "--allow-insecure-http if that is really what you want."
        )
    if rate_limit is not None:
        RateLimiter.parse(rate_limit)  # raises ConfigError naming --rate-limit
    RetryPolicy(retries=retries, max_wait=max_retry_wait)  # raises ConfigError if out of range
    return Settings(
        base_url=url,
        api_key=key,
        model=chosen_model,
        spec=Path(spec) if spec else None,
        profile=profile,
        concurrency=concurrency,
        trials=trials,
        max_requests=max_requests,
        max_tokens=max_tokens,
        rate_limit=rate_limit,
        retries=retries,
        max_retry_wait=max_retry_wait,
        timeouts=timeouts,
        insecure=insecure,
        allow_insecure_http=allow_insecure_http,
        headers=parse_headers(headers),
        expect_auth=expect_auth,
        evidence_tokens=evidence_tokens,
        clients=clients,
    )


def parse_headers(given: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``("X-Org: acme",)`` -> ``(("X-Org", "acme"),)``; a ``ConfigError`` for a bad one."""
    parsed = []
    for item in given:
        name, colon, value = item.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not name or not name.isascii() or not name.replace("-", "").isalnum():
            raise ConfigError(
                f"--header {item!r} is not NAME: VALUE; pass for example --header 'X-Org: acme'."
            )
        if name.lower() in ("authorization", "content-type", "content-length", "host"):
            raise ConfigError(
                f"--header {name!r} is set by conformance itself; the key comes from --api-key."
            )
        parsed.append((name, value))
    return tuple(parsed)


def _safe_for_keys(url: str) -> bool:
    """True for https, and for plain http to a loopback address (this machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
