"""Shared by the feature areas (tools, response_format, logprobs, messages, reasoning):
whether a feature was served, declined ("unsupported") or broken, and where the answer is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conformance.checks._helpers import chunks, clip, parse_body
from conformance.checks._model import Finding
from conformance.checks._registry import NotApplicable, Unsupported
from conformance.wire._exchange import Exchange

RATE_LIMITED = 429
AUTH_REFUSED = (401, 403)


def error_message(exchange: Exchange) -> str | None:
    """The message of a JSON error body (OpenAI envelope or HTTPValidationError), else None."""
    payload, why = parse_body(exchange)
    if why is not None or not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    detail = payload.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail:
        first = detail[0]
        return str(first.get("msg")) if isinstance(first, dict) else json.dumps(first)
    return None


# The error codes with which an endpoint says "this parameter (or value) is not supported by
# this model" (OpenAI's reasoning models refuse max_tokens, temperature, stop, logprobs so).
UNSUPPORTED_CODES = ("unsupported_parameter", "unsupported_value")


def unsupported_parameter(exchange: Exchange) -> str | None:
    """The parameter a 400 declares unsupported (``error.code`` one of
    ``UNSUPPORTED_CODES``; ``error.param``, else "" when it names none), or None."""
    if exchange.status != 400:
        return None
    payload, why = parse_body(exchange)
    error = payload.get("error") if why is None and isinstance(payload, dict) else None
    if not isinstance(error, dict) or error.get("code") not in UNSUPPORTED_CODES:
        return None
    param = error.get("param")
    return param if isinstance(param, str) else ""


def declined(exchange: Exchange) -> str | None:
    """Why the endpoint refused the request with a proper 4xx JSON error, or None.

    A proper refusal is a 4xx (not 401/403/429, which are about the caller, not the
    feature) with a JSON error body a client can show.
    """
    status = exchange.status
    if status is None or not 400 <= status < 500 or status in (*AUTH_REFUSED, RATE_LIMITED):
        return None
    message = error_message(exchange)
    return None if message is None else f"{status}: {clip(message)}"


def unsupported_if_declined(exchange: Exchange, feature: str) -> None:
    """A proper 4xx refusal (``declined``) is ``Unsupported`` (SKIP, "unsupported")."""
    why = declined(exchange)
    if why is not None:
        raise Unsupported(f"the endpoint declined {feature} ({why})")


def require_served(exchange: Exchange, feature: str) -> None:
    """Judge only a 2xx answer; a proper 4xx is ``Unsupported`` (SKIP, "unsupported")."""
    if exchange.ok:
        return
    unsupported_if_declined(exchange, feature)
    raise NotApplicable(f"the request was answered with status {exchange.status}")


def refusal_evidence(exchange: Exchange, *, clipped: bool = True) -> int | str | None:
    """A refusal as a finding's ``actual``: the status and its error message (else the body,
    clipped), if any."""
    message = error_message(exchange) or exchange.text().strip()
    if not message:
        return exchange.status
    return f"{exchange.status}: {clip(message) if clipped else message}"


def refused(exchange: Exchange, what: str, *, path: str = "$") -> Iterator[Finding]:
    """The finding for a valid request that was not served: any status but 2xx."""
    if exchange.ok:
        return
    status = exchange.status
    if status is not None and status >= 500:
        yield refusal_finding(exchange, f"{what} caused a server error", "server-error", path)
    else:
        yield refusal_finding(exchange, f"{what} was refused", "refused", path)


def refusal_finding(exchange: Exchange, title: str, kind: str, path: str = "$") -> Finding:
    """The one finding of a valid request that was not served, whatever the title says."""
    return Finding(
        title=title,
        kind=kind,
        json_path=path,
        expected="a 2xx answer: the request is valid against ChatCompletionRequest",
        actual=refusal_evidence(exchange),
    )


def answer(exchange: Exchange) -> dict[str, Any]:
    """The non-streamed body as an object; NotApplicable when it is not (response_schema's)."""
    payload, why = parse_body(exchange)
    if why is not None or not isinstance(payload, dict):
        raise NotApplicable("the body is not a JSON object; see response_schema")
    return payload


def messages(payload: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(position, message) of every choice whose message is an object."""
    choices = payload.get("choices")
    for position, choice in enumerate(choices if isinstance(choices, list) else []):
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict):
            yield position, message


def _choices(payload: object) -> list[dict[str, Any]]:
    choices = payload.get("choices") if isinstance(payload, dict) else None
    return [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []


@dataclass(frozen=True)
class Delta:
    """One choice's delta in one chunk, with where it is."""

    chunk_index: int
    position: int  # of the choice within the chunk's ``choices``
    choice_index: object  # the choice's ``index`` as sent
    delta: dict[str, Any]

    @property
    def path(self) -> str:
        return f"$.choices[{self.position}].delta"


def deltas(exchange: Exchange) -> list[Delta]:
    """Every delta object of the stream, in order."""
    out: list[Delta] = []
    for chunk in chunks(exchange):
        for position, choice in enumerate(_choices(chunk.payload)):
            delta = choice.get("delta")
            if isinstance(delta, dict):
                out.append(Delta(chunk.index, position, choice.get("index"), delta))
    return out
