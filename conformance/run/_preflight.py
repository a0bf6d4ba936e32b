"""What the first request says about the run as a whole: a redirect, or a model the endpoint
does not serve, stops it after the preflight with one line that says what to fix.

``redirect_problem`` reads the plain chat's 3xx (the client never follows it, so the key never
goes to another host); ``model_problem`` reads a 404, or a 400/422 naming the model, and
``listed_models`` asks ``GET <base>/models`` of the same host (no redirect followed) so that
the line can name what the endpoint does serve. Every word of the endpoint's is escaped
(``visible``) and clipped: these lines go to the terminal.
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urljoin, urlsplit

import httpx

from conformance.wire._client import USER_AGENT, Endpoint
from conformance.wire._exchange import Exchange, NotUtf8, parse_json
from conformance.wire._redact import Redactor
from conformance.wire._visible import visible

MODELS_SHOWN = 20  # a long listing is cut: the line stays readable
TEXT_SHOWN = 200


def redirect_problem(exchange: Exchange, url: str) -> str | None:
    """The line for a plain chat answered with a redirect, with the likely fix; else None."""
    status = exchange.status
    if status is None or not 300 <= status < 400:
        return None
    location = exchange.headers.get("location", "")
    target = urljoin(url, location) if location else ""
    shown = _shown(target) if target else "nowhere (no Location header)"
    return (
        f"the endpoint at {url} redirects ({status}) to {shown}: the request was not "
        f"followed (the API key is not sent on to another address). {_fix(url, target)}"
    )


def _fix(url: str, target: str) -> str:
    asked, went = urlsplit(url), urlsplit(target)
    same_host = asked.hostname == went.hostname
    if target and same_host and (asked.scheme, went.scheme) == ("http", "https"):
        return "The endpoint wants https: use https:// in --base-url."
    if (
        target
        and went.path.rstrip("/").endswith("/v1/chat/completions")
        and "/v1/" not in (asked.path + "/")
    ):
        return "The endpoint's API lives under /v1: end --base-url with /v1."
    if target and asked.path != went.path and went.path.startswith(asked.path.rstrip("/")):
        return "Check the path of --base-url (it usually ends in /v1)."
    return (
        "Check --base-url (scheme, host and the /v1 path); if the new address is the "
        "endpoint's and you trust it, use it as --base-url."
    )


def model_problem(exchange: Exchange, model: str, listed: list[str] | None) -> str | None:
    """The line for a plain chat refused because ``model`` is not served; else None.

    Not served: a 404 that names the model (or says ``model_not_found``), a 404 when the
    endpoint's listing does not hold the model, or a 400/422 that names the model.
    """
    status = exchange.status
    if status not in (400, 404, 422) or not model:
        return None
    message, code, param = _error_fields(exchange)
    # the model as a word of its own ("model=m." names m; "max_tokens" does not)
    named = re.search(rf"(?<![\w./-]){re.escape(model)}(?!\.?[\w/-])", message) is not None
    names_it = named or code == "model_not_found" or (status == 404 and param == "model")
    not_listed = listed is not None and model not in listed
    if not (names_it or (status == 404 and not_listed)):
        return None
    line = f"model {_shown(repr(model))} not found: the endpoint answered {status}"
    if message:
        line += f" ({_shown(message)})"
    if listed:
        names = ", ".join(listed[:MODELS_SHOWN])
        more = f" and {len(listed) - MODELS_SHOWN} more" if len(listed) > MODELS_SHOWN else ""
        line += f". It lists: {_shown(names, limit=1000)}{more}. Pass one of them with --model."
    elif listed is not None:
        line += ". Its model list (GET /models) is empty. Check --model with the provider."
    else:
        line += ". Check --model (GET /models did not list the endpoint's models)."
    return line


def not_found_problem(exchange: Exchange, url: str, model: str) -> str | None:
    """The line for a plain chat answered 404 that names neither the model nor a listing."""
    if exchange.status != 404:
        return None
    message, _, _ = _error_fields(exchange)
    said = f" ({_shown(message)})" if message else ""
    return (
        f"the endpoint at {url} answered 404 Not Found{said}: either no chat completions API "
        f"is at this address (check --base-url; it usually ends in /v1) or model "
        f"{_shown(repr(model))} is not served there (check --model)."
    )


def listed_models(
    endpoint: Endpoint, transport: httpx.AsyncBaseTransport | None
) -> list[str] | None:
    """The model ids ``GET <base_url>/models`` lists, or None when it does not answer so."""
    try:
        return asyncio.run(_list(endpoint, transport))
    except (httpx.HTTPError, ValueError, RecursionError):
        return None


async def _list(endpoint: Endpoint, transport: httpx.AsyncBaseTransport | None) -> list[str] | None:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if endpoint.api_key:
        headers["Authorization"] = f"Bearer {endpoint.api_key}"
    t = endpoint.timeouts
    async with httpx.AsyncClient(
        transport=transport,
        verify=endpoint.verify_tls,
        timeout=httpx.Timeout(t.total, connect=t.connect, read=t.read),
        follow_redirects=False,  # the key goes to the endpoint's host only
    ) as client:
        response = await client.get(endpoint.base_url.rstrip("/") + "/models", headers=headers)
        if response.status_code != 200 or len(response.content) > 1_000_000:
            return None
        payload = parse_json(response.content)  # UTF-8 only, never silently UTF-16
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return None
    redact = Redactor([endpoint.api_key])
    return [
        redact.text(item["id"])
        for item in data
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    ]


def _error_text(exchange: Exchange) -> str:
    try:
        return exchange.text()
    except (ValueError, UnicodeDecodeError):
        return ""


def _error_fields(exchange: Exchange) -> tuple[str, str | None, str | None]:
    """The message, code and param of a JSON error body (the body's text as the message
    when it is no such body)."""
    try:
        payload = exchange.json()
    except (ValueError, RecursionError) as exc:
        # a body in UTF-16 is no text to quote: say which encoding it is in instead
        return str(exc) if isinstance(exc, NotUtf8) else _error_text(exchange).strip(), None, None
    if not isinstance(payload, dict):
        return _error_text(exchange).strip(), None, None
    error = payload.get("error")
    if isinstance(error, dict):
        code, param = error.get("code"), error.get("param")
        return (
            str(error.get("message") or ""),
            code if isinstance(code, str) else None,
            param if isinstance(param, str) else None,
        )
    detail = payload.get("detail")
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg", "")), None, None
    if isinstance(detail, str):
        return detail, None, None
    return _error_text(exchange).strip(), None, None


def _shown(text: str, limit: int = TEXT_SHOWN) -> str:
    """The endpoint's words on one line, controls escaped, cut at ``limit``."""
    text = visible(text, one_line=True)
    return text if len(text) <= limit else text[:limit] + "..."
