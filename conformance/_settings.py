"""Where the endpoint, key and model come from: options first, then the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from conformance._errors import ConfigError
from conformance._spec import PROFILES

BASE_URL_VARS = ("CONFORMANCE_BASE_URL", "OPENAI_BASE_URL")
API_KEY_VARS = ("CONFORMANCE_API_KEY", "OPENAI_API_KEY")
MODEL_VARS = ("CONFORMANCE_MODEL",)


@dataclass(frozen=True)
class Settings:
    """A resolved run configuration. ``base_url`` None means: use the embedded server."""

    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    model: str | None = None
    spec: Path | None = None
    profile: str = "strict"
    concurrency: int = 8
    max_requests: int | None = None  # hard ceilings for the whole run; None: no ceiling
    max_tokens: int | None = None

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
    profile: str = "strict",
    concurrency: int = 8,
    max_requests: int | None = None,
    max_tokens: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Fill gaps from the environment and check every value; raise ``ConfigError`` if wrong."""
    env = os.environ if env is None else env
    url = _first(base_url, BASE_URL_VARS, env)
    if url is not None:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"--base-url {url!r} is not an http(s) URL with a host. Pass the endpoint's "
                "base URL, for example --base-url https://api.example.com/v1."
            )
    chosen_model = _first(model, MODEL_VARS, env)
    if url is not None and not chosen_model:
        raise ConfigError(
            "--model is missing: with --base-url, name the model to test, for example "
            "--model meta-llama/Llama-3.3-70B-Instruct (or set CONFORMANCE_MODEL)."
        )
    if profile not in PROFILES:
        raise ConfigError(
            f"--profile {profile!r} is unknown. Use 'strict' (the document as written) or "
            "'compat' (with the errata in schemas/errata.yaml applied)."
        )
    if concurrency < 1:
        raise ConfigError(f"--concurrency {concurrency} must be at least 1.")
    for name, ceiling in (("--max-requests", max_requests), ("--max-tokens", max_tokens)):
        if ceiling is not None and ceiling < 1:
            raise ConfigError(f"{name} {ceiling} must be at least 1 (leave it out for no ceiling).")
    return Settings(
        base_url=url,
        api_key=_first(api_key, API_KEY_VARS, env),
        model=chosen_model,
        spec=Path(spec) if spec else None,
        profile=profile,
        concurrency=concurrency,
        max_requests=max_requests,
        max_tokens=max_tokens,
    )
