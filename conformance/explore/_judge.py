"""Judge one generated exchange: by the exploration properties' own rules (status) and by
every registered check that can judge any exchange (``Check.any_exchange``).

The catalogue's check functions are reused as they are; nothing of their logic is copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from conformance.checks import Check, CheckContext, NotApplicable, get_probe, registered_checks
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import CHAT, CHAT_STREAM, CHAT_STREAM_USAGE, INVALID
from conformance.contract._spec import Contract
from conformance.explore import _properties as props
from conformance.wire._exchange import Exchange

Judged = tuple[str, Finding]  # (property id, finding)


def _kind_probe(body: Any, *, invalid: bool) -> str:
    """The probe whose exchanges are like this one: the checks of that probe apply."""
    if invalid:
        return INVALID[0]
    if not isinstance(body, dict) or body.get("stream") is not True:
        return CHAT.id
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage") is True:
        return CHAT_STREAM_USAGE.id
    return CHAT_STREAM.id


class Judge:
    def __init__(self, contract: Contract, model: str, *, api_key_configured: bool) -> None:
        self.contract = contract
        self.model = model
        self.api_key_configured = api_key_configured
        self._checks = [c for c in registered_checks() if c.any_exchange]

    @property
    def checks(self) -> list[Check]:
        """The checks that judge one exchange (``Check.any_exchange``)."""
        return list(self._checks)

    def catalogue(self, exchange: Exchange, *, invalid: bool) -> Iterator[Finding]:
        """The findings of every applicable catalogue check, attributed to that check."""
        for _, found in self.outcomes(exchange, invalid=invalid):
            if not isinstance(found, NotApplicable):
                yield from found

    def outcomes(
        self, exchange: Exchange, *, invalid: bool
    ) -> Iterator[tuple[Check, list[Finding] | NotApplicable]]:
        """Each check of this kind of exchange with its findings, or why it did not apply
        (``NotProvoked``, ``Unsupported``: a tally of observed traffic counts those)."""
        probe = get_probe(_kind_probe(exchange.request.body, invalid=invalid))
        ctx = CheckContext(
            contract=self.contract,
            model=self.model,
            api_key_configured=self.api_key_configured,
            probe=probe,
        )
        for check in self._checks:
            if probe.id in check.probes:
                yield check, self._run(check, exchange, ctx)

    @staticmethod
    def _run(check: Check, exchange: Exchange, ctx: CheckContext) -> list[Finding] | NotApplicable:
        try:
            found = list(check.func(exchange, ctx))
        except NotApplicable as why:
            return why.with_traceback(None)
        return [
            replace(
                finding,
                check_id=check.id,
                severity=finding.weighed(check.severity),
                exchange=exchange,
            )
            for finding in found
        ]

    def valid(self, exchange: Exchange) -> list[Judged]:
        """A schema-valid request: 5xx is a failure, 4xx a warning, 2xx judged in full."""
        status = exchange.status or 0
        if status >= 500:
            return [
                (
                    props.NO_SERVER_ERRORS.id,
                    Finding(
                        title=f"a schema-valid request was answered with {status}",
                        kind="server error",
                        expected="a 2xx answer (or a 4xx naming what is not supported)",
                        actual=_reason(exchange),
                        check_id=props.NO_SERVER_ERRORS.id,
                        severity=Severity.MUST,
                        exchange=exchange,
                    ),
                )
            ]
        if 400 <= status < 500:
            param = _param(exchange)
            return [
                (
                    props.VALID_ACCEPTED.id,
                    Finding(
                        title=f"a schema-valid request was refused with {status}",
                        kind="refused",
                        json_path=f"$.{param}" if param else "$",
                        expected="200: the request is valid against ChatCompletionRequest",
                        actual=_reason(exchange),
                        check_id=props.VALID_ACCEPTED.id,
                        severity=Severity.SHOULD,
                        exchange=exchange,
                    ),
                )
            ]
        return [(props.RESPONSE_SCHEMA.id, f) for f in self.catalogue(exchange, invalid=False)]

    def invalid(self, exchange: Exchange) -> list[Judged]:
        """A schema-invalid request: a 4xx with a JSON error body (the catalogue's rules)."""
        return [(props.INVALID_REJECTED.id, f) for f in self.catalogue(exchange, invalid=True)]

    def recovery(self, exchange: Exchange) -> list[Judged]:
        """The plain request sent right after an invalid one: a 200 that keeps the contract."""
        if exchange.status != 200:
            return [
                (
                    props.RECOVERS.id,
                    Finding(
                        title="a plain valid request right after an invalid one was answered "
                        f"with {exchange.status}",
                        kind="not 200 after an invalid request",
                        expected=200,
                        actual=_reason(exchange),
                        check_id=props.RECOVERS.id,
                        severity=Severity.MUST,
                        exchange=exchange,
                    ),
                )
            ]
        return [(props.RECOVERS.id, f) for f in self.catalogue(exchange, invalid=False)]


def _error(exchange: Exchange) -> dict[str, Any]:
    try:
        payload = exchange.json()
    except ValueError:
        return {}
    error = payload.get("error") if isinstance(payload, dict) else None
    return error if isinstance(error, dict) else {}


def _param(exchange: Exchange) -> str | None:
    param = _error(exchange).get("param")
    return param if isinstance(param, str) and param.isidentifier() else None


def _reason(exchange: Exchange) -> str:
    """The status and what the endpoint said about it, in one line."""
    message = _error(exchange).get("message")
    said = message if isinstance(message, str) else exchange.text()[:200]
    return f"{exchange.status}: {said}".strip() if said else str(exchange.status)
