"""The endpoints file of ``conformance matrix``: named endpoints, their models and limits.

```yaml
endpoints:
  openai:
    base_url: https://api.openai.com/v1
    models: [gpt-4o-mini, gpt-4.1-nano]
    api_key_env: OPENAI_API_KEY      # the NAME of the variable holding the key, never a key
    profile: openai                  # optional, as `conformance run --profile`
    rate_limit: 60/m                 # optional, as --rate-limit
    concurrency: 4                   # optional, as --concurrency
    headers: {OpenAI-Organization: org-123}
```

Every problem is found at once and said in one line naming the file, the place and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from conformance._errors import ConfigError, ConformanceError
from conformance.contract._yamlfile import UnsafeYaml, load, read_regular
from conformance.run._settings import resolve_settings

ENDPOINT_KEYS = {
    "base_url", "model", "models", "api_key_env", "profile", "rate_limit", "concurrency",
    "headers",
}  # fmt: skip
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # a directory name on every system
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
KEY_LIKE = re.compile(r"^(sk|pk|rk|gsk|xai|key)[-_]|^[A-Za-z0-9_\-]{32,}$")


@dataclass(frozen=True)
class MatrixEndpoint:
    name: str
    base_url: str
    models: tuple[str, ...]
    api_key_env: str | None = None
    profile: str = "openai"
    rate_limit: str | None = None
    concurrency: int = 8
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Pair:
    """One run of the matrix: an endpoint and one of its models."""

    endpoint: MatrixEndpoint
    model: str
    label: str  # its report directory's name, unique in the matrix


MAX_ENDPOINTS_BYTES = 1024 * 1024  # a list of endpoints; a thousand of them take ~200 KB


class EndpointsFileError(ConformanceError):
    """The endpoints file is wrong; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_endpoints(path: Path) -> list[MatrixEndpoint]:
    """The endpoints of ``path``; an ``EndpointsFileError`` listing every problem."""
    where = str(path)
    try:  # as --spec and --baseline are read: a regular file, no aliases, not too deep
        raw = read_regular(path, limit=MAX_ENDPOINTS_BYTES, what="endpoints file")
        data = load(raw.decode("utf-8"))
    except OSError as exc:
        raise EndpointsFileError(
            [f"{where}: cannot be read ({exc.strerror or exc}); pass the endpoints YAML file."]
        ) from None
    except UnicodeDecodeError:
        raise EndpointsFileError(
            [f"{where}: not UTF-8 text; pass the endpoints YAML file."]
        ) from None
    except UnsafeYaml as exc:
        raise EndpointsFileError([f"{where} {exc}."]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise EndpointsFileError([f"{where}: not valid YAML{at}: {problem}."]) from None
    if not isinstance(data, Mapping) or not isinstance(data.get("endpoints"), Mapping):
        raise EndpointsFileError(
            [f"{where}: expected a mapping with 'endpoints:' naming each endpoint (see README)."]
        )
    problems = [
        f"{where}: unknown top-level key {key!r}; the file has only 'endpoints:'."
        for key in data
        if key != "endpoints"
    ]
    endpoints: list[MatrixEndpoint] = []
    if not data["endpoints"]:
        problems.append(f"{where}: 'endpoints:' is empty; name at least one endpoint.")
    for name, entry in data["endpoints"].items():
        found, said = _endpoint(f"{where}: endpoints.{name}", str(name), entry)
        problems += said
        if found is not None:
            endpoints.append(found)
    if problems:
        raise EndpointsFileError(problems)
    return endpoints


def _endpoint(at: str, name: str, entry: Any) -> tuple[MatrixEndpoint | None, list[str]]:
    if not isinstance(entry, Mapping):
        return None, [f"{at}: expected a mapping with base_url, model(s) and api_key_env."]
    problems = [
        f"{at}: unknown key {key!r}; known: {', '.join(sorted(ENDPOINT_KEYS))}."
        for key in entry
        if key not in ENDPOINT_KEYS
    ]
    if not NAME.match(name):
        problems.append(
            f"{at}: the name {name!r} is used as a directory name; use letters, digits, "
            "'.', '_' and '-' only (up to 64)."
        )
    base_url = entry.get("base_url")
    if not isinstance(base_url, str) or not base_url.strip():
        problems.append(f"{at}.base_url: missing; give the endpoint's base URL, e.g. "
                        "https://api.example.com/v1.")  # fmt: skip
    models = _models(at, entry, problems)
    key_env = entry.get("api_key_env")
    if key_env is not None and not (isinstance(key_env, str) and ENV_NAME.match(key_env)):
        shown = "the value given" if isinstance(key_env, str) else repr(key_env)
        problems.append(
            f"{at}.api_key_env: {shown} is not an environment variable name; give the NAME "
            "of the variable that holds the key (e.g. OPENAI_API_KEY), never the key itself."
        )
        key_env = None
    elif isinstance(key_env, str) and KEY_LIKE.match(key_env) and not key_env.isupper():
        problems.append(
            f"{at}.api_key_env: looks like a key itself; give the NAME of the environment "
            "variable that holds it (e.g. OPENAI_API_KEY), and rotate that key."
        )
        key_env = None
    headers = entry.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(v, str | int | float) for v in headers.values()
    ):
        problems.append(f"{at}.headers: expected a mapping of header names to text values.")
        headers = {}
    concurrency = entry.get("concurrency", 8)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int):
        problems.append(f"{at}.concurrency: {concurrency!r} is not a whole number; e.g. 4.")
        concurrency = 8
    profile = entry.get("profile", "openai")
    rate_limit = entry.get("rate_limit")
    if rate_limit is not None:
        rate_limit = str(rate_limit)
    if problems or not isinstance(base_url, str) or not models:
        return None, problems
    try:
        settings = resolve_settings(
            base_url=base_url,
            api_key="placeholder" if key_env else None,
            model=models[0],
            profile=str(profile),
            concurrency=concurrency,
            rate_limit=rate_limit,
            headers=tuple(f"{k}: {v}" for k, v in headers.items()),
            env={},
        )
    except ConfigError as exc:
        return None, [f"{at}: {_field_named(str(exc))}"]
    assert settings.base_url is not None  # noqa: S101 - given above
    endpoint = MatrixEndpoint(
        name=name,
        base_url=settings.base_url,
        models=models,
        api_key_env=key_env,
        profile=settings.profile,
        rate_limit=settings.rate_limit,
        concurrency=settings.concurrency,
        headers=settings.headers,
    )
    return endpoint, []


def _models(at: str, entry: Mapping[str, Any], problems: list[str]) -> tuple[str, ...]:
    if "model" in entry and "models" in entry:
        problems.append(f"{at}: has both 'model' and 'models'; keep one.")
        return ()
    given = entry.get("models", entry.get("model"))
    listed = [given] if isinstance(given, str) else given
    if (
        not isinstance(listed, list)
        or not listed
        or not all(isinstance(m, str) and m.strip() for m in listed)
    ):
        problems.append(f"{at}.models: give the model name(s) to test, e.g. models: [gpt-4o-mini].")
        return ()
    if len(set(listed)) != len(listed):
        problems.append(f"{at}.models: a model is listed twice.")
        return ()
    return tuple(m.strip() for m in listed)


_OPTION_FIELDS = {
    "--base-url": "base_url",
    "--profile": "profile",
    "--concurrency": "concurrency",
    "--rate-limit": "rate_limit",
    "--header": "headers",
    "--api-key": "api_key_env",
}


def _field_named(message: str) -> str:
    """A setting's message, naming the file's field instead of the command-line option."""
    for option, name in _OPTION_FIELDS.items():
        if message.startswith(option + " "):
            return f"{name}{message[len(option) :]}"
    return message


def pairs_of(endpoints: list[MatrixEndpoint], only: tuple[str, ...] = ()) -> list[Pair]:
    """Every endpoint x model, labelled ``name`` (one model) or ``name--model``."""
    unknown = [name for name in only if name not in {e.name for e in endpoints}]
    if unknown:
        known = ", ".join(e.name for e in endpoints)
        raise ConfigError(f"--only {unknown[0]!r} is not in the endpoints file; it has: {known}.")
    out: list[Pair] = []
    for endpoint in endpoints:
        if only and endpoint.name not in only:
            continue
        for model in endpoint.models:
            label = endpoint.name
            if len(endpoint.models) > 1:
                label += "--" + re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-")
            taken = {p.label for p in out}
            unique, n = label, 2
            while unique in taken:  # two model names that read alike as directory names
                unique, n = f"{label}-{n}", n + 1
            out.append(Pair(endpoint, model, unique))
    return out
