"""The conformance checks inside schemathesis: a schemathesis extension module.

Load it the way schemathesis loads extensions, then run schemathesis as usual::

    SCHEMATHESIS_HOOKS=conformance.contrib.schemathesis schemathesis run ...
    # or, in schemathesis.toml:  hooks = "conformance.contrib.schemathesis"

In schemathesis's pytest integration, import this module before loading the schema
(``import conformance.contrib.schemathesis``); its checks then run in ``case.call_and_validate()``.

What it adds (nothing of the judgement is copied: the registered checks run as they are):

- the check ``conformance``: every response becomes our ``Exchange`` (an event stream is read
  through our SSE decoder, framing problems included, and *every* chunk is validated), and every
  registered check that can judge any exchange (``Check.any_exchange``: usage arithmetic,
  finish_reason, stream framing and terminator, chunk schema, error bodies, ...) judges it.
  Each finding is raised as a schemathesis ``Failure`` (``ConformanceFailure``) whose title is
  the finding and whose message names the check, JSON path, spec pointer, expected and actual.
- hooks that make a conforming server pass (the vendored document is never edited, only the
  copy schemathesis loads): under ``CONFORMANCE_PROFILE=openai`` the profile's Overlay is
  applied, and the answers every OpenAI-compatible server gives but the document does not
  declare are declared (``UNDECLARED``: ``text/event-stream`` for ``stream: true``, 4xx JSON
  errors); ``CONFORMANCE_MODEL`` replaces a generated model name with the one the endpoint
  serves; event streams are read whole (``max-stream-events`` raised unless configured).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

try:
    import schemathesis
    from schemathesis.core.failures import Failure, FailureGroup, Severity
except ImportError as exc:  # an optional extra: say how to get it
    raise ImportError(
        "conformance.contrib.schemathesis needs schemathesis 4.32 or later; install it with "
        "`pip install -e '.[schemathesis]'` from the conformance checkout"
    ) from exc

from conformance.checks import get_check
from conformance.checks._model import Finding
from conformance.checks._model import Severity as Weight
from conformance.contract._spec import Contract, default_contract
from conformance.explore._judge import Judge
from conformance.explore._options import Shaping
from conformance.explore._shape import cohere
from conformance.wire._exchange import Exchange, RecordedRequest
from conformance.wire._redact import Redactor
from conformance.wire._sse import UNTERMINATED, SSEDecoder

__all__ = [
    "UNDECLARED",
    "ConformanceFailure",
    "exchange_from_response",
    "failures_for",
    "is_invalid_request",
]

PROFILE_ENV = "CONFORMANCE_PROFILE"
MODEL_ENV = "CONFORMANCE_MODEL"
EVENT_STREAM = "text/event-stream"
OPERATION = ("/v1/chat/completions", "post")
# Enough events for any answer schemathesis provokes, so that the end of a stream is judged.
STREAM_EVENTS = 100_000
# What every OpenAI-compatible server answers and the document does not declare (added to
# the loaded copy under the openai profile): streams for `stream: true`; 4xx JSON errors for
# a missing or wrong key (401/403), an unknown model (404), a refused value (400), a rate
# limit (429). Their bodies are judged by our checks (error_body_shape), not by a schema here.
UNDECLARED: dict[str, dict[str, Any]] = {
    "200": {EVENT_STREAM: {}},
    "4XX": {"application/json": {"schema": {}}},
}
_SEVERITY = {Weight.MUST: Severity.HIGH, Weight.SHOULD: Severity.MEDIUM}


class ConformanceFailure(Failure):
    """A finding of a conformance check, as schemathesis reports a failure."""

    code = "ST901"
    kind_title = "Chat-completions contract violated"

    def __init__(
        self,
        *,
        operation: str | None,
        finding: Finding,
        case_id: str | None = None,
    ) -> None:
        self.finding = finding
        super().__init__(
            operation=operation,
            title=f"{finding.check_id}: {finding.title}",
            message=_message(finding),
            case_id=case_id,
            severity=_SEVERITY[finding.severity],
        )

    @property
    def _unique_key(self) -> str:
        # one failure per check and place: the title carries values that vary between cases
        return f"{self.finding.check_id} {self.finding.json_path}"


def _message(finding: Finding) -> str:
    check = get_check(finding.check_id)
    lines = [
        f"Check: {check.id} ({check.severity.value}, {check.area}): {check.title}",
        f"JSON path: {finding.json_path}",
        f"Spec: {finding.schema_path or check.spec}",
    ]
    if finding.chunk_index is not None:
        lines.append(f"Stream event: #{finding.chunk_index}")
    if finding.expected is not None:
        lines.append(f"Expected: {_show(finding.expected)}")
    if finding.actual is not None:
        lines.append(f"Actual: {_show(finding.actual)}")
    if finding.count > 1:
        lines.append(f"Seen {finding.count} times in this response")
    return "\n".join(lines)


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 300 else text[:300] + "…"


def _header_values(headers: Mapping[str, Any]) -> dict[str, str]:
    """Headers with lower-case names and one string each (schemathesis keeps lists)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        out[name.lower()] = ", ".join(value) if isinstance(value, list) else str(value)
    return out


def _secrets(headers: Mapping[str, str]) -> list[str]:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return [token.strip()] if scheme.lower() == "bearer" and token.strip() else [value]


def _request_body(raw: Any) -> Any:
    if raw is None:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    try:
        return json.loads(text)
    except ValueError:
        return text


def exchange_from_response(response: Any, exchange_id: str = "schemathesis") -> Exchange:
    """Our ``Exchange`` of a schemathesis ``Response`` (and the request it carries).

    An event stream is decoded by our SSE decoder: every event and every framing problem.
    A stream that schemathesis stopped reading (``stream_cut_short``) is not blamed for its
    last, unfinished event. The bearer key is redacted everywhere, as in our own client.
    """
    request = response.request
    sent_headers = _header_values(dict(request.headers))
    redact = Redactor(_secrets(sent_headers))
    headers = redact.headers(_header_values(response.headers))
    body_sent = _request_body(request.body)
    exchange = Exchange(
        id=exchange_id,
        request=RecordedRequest(
            method=str(request.method),
            url=redact.text(str(request.url)),
            headers=redact.headers(sent_headers),
            body=redact.json(body_sent),
        ),
        status=int(response.status_code),
        headers=headers,
        body=redact.bytes(bytes(response.content or b"")),
        elapsed_s=float(response.elapsed or 0.0),
    )
    if exchange.content_type == EVENT_STREAM:
        decoder = SSEDecoder()
        events = decoder.feed(bytes(response.content or b""))
        events.extend(decoder.close())
        problems = decoder.problems
        if getattr(response, "stream_cut_short", False):
            problems = [p for p in problems if p.title != UNTERMINATED]
        exchange.streamed = True
        exchange.events = events
        exchange.framing = list(problems)
    return exchange


def is_invalid_request(contract: Contract, body: Any) -> bool:
    """True when ``body`` breaks ChatCompletionRequest (read from the contract, not the mode
    schemathesis generated it in: a "negative" case is often valid)."""
    return not contract.validator("ChatCompletionRequest").is_valid(body)


def _contract() -> Contract:
    return default_contract(os.environ.get(PROFILE_ENV, "strict"))


def _judge() -> Judge:
    return Judge(_contract(), os.environ.get(MODEL_ENV, ""), api_key_configured=True)


def failures_for(exchange: Exchange, *, operation: str | None = None) -> list[Failure]:
    """What our checks find in ``exchange``, one ``ConformanceFailure`` per distinct finding.

    A schema-valid request answered 2xx is judged in full; a schema-invalid one (and a valid
    one refused with a 4xx) by the error checks; a 5xx is schemathesis's own
    ``not_a_server_error``'s to report.
    """
    status = exchange.status or 0
    if not 200 <= status < 500:
        return []
    judge = _judge()
    invalid = is_invalid_request(judge.contract, exchange.request.body)
    findings = list(judge.catalogue(exchange, invalid=invalid or status >= 400))
    if status >= 400 and not invalid:
        # a valid request refused (no key, unknown model, unsupported): only its error body
        findings = [f for f in findings if f.check_id == "error_body_shape"]
    seen: dict[tuple[str, str, str], Finding] = {}
    for finding in findings:
        key = (finding.check_id, finding.title, finding.json_path)
        if key in seen:
            seen[key] = _counted(seen[key])
        else:
            seen[key] = finding
    return [ConformanceFailure(operation=operation, finding=f) for f in seen.values()]


def _counted(finding: Finding) -> Finding:
    return replace(finding, count=finding.count + 1)


@schemathesis.check
def conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """The chat-completions contract: every registered check that judges one exchange."""
    operation = getattr(getattr(case, "operation", None), "label", None)
    failures = failures_for(exchange_from_response(response), operation=operation)
    case_id = getattr(case, "id", None)
    for failure in failures:
        failure.case_id = case_id
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise FailureGroup(failures)
    return None


def _iter_operations(raw_schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    path, method = OPERATION
    operation = raw_schema.get("paths", {}).get(path, {}).get(method)
    if isinstance(operation, dict):
        yield operation


def relax(raw_schema: dict[str, Any], profile: str) -> None:
    """Apply ``profile`` to the document schemathesis loaded, in place (the file is untouched).

    ``strict`` leaves it as written; ``openai`` applies the profile's Overlay (as our own
    loader does) and declares the ``UNDECLARED`` answers of the chat-completions operation.
    """
    if profile == "strict":
        return
    relaxed = Contract.load(profile=profile).document
    if not _same_document(raw_schema, Contract.load(profile="strict").document):
        raise ValueError(
            f"{PROFILE_ENV}={profile} applies to the vendored chat-completions document only; "
            "load schemas/chat-completions.openapi.yaml, or set "
            f"{PROFILE_ENV}=strict for another document"
        )
    raw_schema.clear()
    raw_schema.update(json.loads(json.dumps(relaxed)))
    for operation in _iter_operations(raw_schema):
        responses = operation.setdefault("responses", {})
        for status, media in UNDECLARED.items():
            declared = responses.setdefault(status, {"description": "undeclared by the document"})
            content = declared.setdefault("content", {})
            for media_type, entry in media.items():
                content.setdefault(media_type, entry)


def _same_document(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


@schemathesis.hook
def before_load_schema(context: Any, raw_schema: dict[str, Any]) -> None:
    """Apply ``CONFORMANCE_PROFILE`` (default ``strict``) to the loaded document."""
    relax(raw_schema, os.environ.get(PROFILE_ENV, "strict"))


@schemathesis.hook
def after_load_schema(context: Any, schema: Any) -> None:
    """Read event streams whole, unless the project configured ``max-stream-events``."""
    config = getattr(schema, "config", None)
    if config is not None and getattr(config, "max_stream_events", None) is None:
        config.max_stream_events = STREAM_EVENTS


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    """Make a schema-valid request one a conforming endpoint serves: the model it serves
    (``CONFORMANCE_MODEL``), and the rules the document cannot state (exploration's
    ``cohere``: ``top_logprobs`` needs ``logprobs``, a forced ``tool_choice`` needs ``tools``,
    ...), under exploration's caps (``n``, token limits, ``top_logprobs``).
    A schema-invalid body (a negative case) is left as it was drawn."""
    body = getattr(case, "body", None)
    if not isinstance(body, dict):
        return case
    contract = _contract()
    if is_invalid_request(contract, body):
        return case
    shaping = Shaping()
    fitted = cohere(body, shaping)
    for name, cap in shaping.caps().items():  # what one request may cost, as exploration caps it
        value = fitted.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > cap:
            fitted[name] = cap
    model = os.environ.get(MODEL_ENV)
    if model and isinstance(fitted.get("model"), str):
        fitted["model"] = model
    if not is_invalid_request(contract, fitted):
        case.body = fitted
    return case
