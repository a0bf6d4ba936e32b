"""Optional request parameters that change nothing a client can see in the answer (store,
user, logit_bias, extra_body, service_tier and the ``ai_project_id`` query parameter): an
endpoint accepts them, or declines them with a proper 4xx, and never breaks on them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from conformance.checks._answer import answered
from conformance.checks._model import Finding, Severity
from conformance.checks._probes import _chat
from conformance.checks._registry import CheckContext, Probe, check, probe
from conformance.wire._exchange import Exchange

REQUEST = "#/components/schemas/ChatCompletionRequest"
PROPERTY = f"{REQUEST}/properties"
PROJECT_ID = "#/paths/~1v1~1chat~1completions/post/parameters/0"

# Values that ask for no visible change: a bias of 0, no extra parameters, the default tier.
OPTIONAL: dict[str, Any] = {
    "store": False,
    "user": "conformance-suite",
    "logit_bias": {"50256": 0},
    "extra_body": {},
    "service_tier": "auto",
}
QUERY = {"ai_project_id": "conformance"}


def _optional(model: str) -> dict[str, Any]:
    return _chat(model, **OPTIONAL)


OPTIONAL_PARAMETERS = probe(
    Probe(
        "optional_parameters",
        "the plain chat with store, user, logit_bias, extra_body and service_tier set to "
        "values that change nothing, sent with the query parameter ai_project_id",
        _optional,
        query=QUERY,
        if_declared=("extra_body",),  # an SDK argument under the openai profile (errata)
    )
)


@check(
    area="parameters",
    severity=Severity.MUST,
    spec=REQUEST,
    probes=[OPTIONAL_PARAMETERS.id],
    covers=[*(f"{PROPERTY}/{name}" for name in OPTIONAL), PROJECT_ID],
    fix=(
        "Accept the optional parameters the document lists (store, user, logit_bias, "
        "service_tier, ...) even when they change nothing. Usual cause: a strict validator "
        "that refuses fields it does not use."
    ),
)
def optional_parameters_accepted(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """store, user, logit_bias, extra_body, service_tier and ai_project_id are accepted.

    Each is an optional parameter of the document (``ai_project_id`` in the query, the
    others in ChatCompletionRequest). SDKs pass them through from the caller, so an
    endpoint serves the request, or declines a parameter it does not support with a 4xx
    (SKIP, "unsupported"); a 5xx means it broke on a valid request.
    """
    what = f"{', '.join(OPTIONAL)} and the query parameter ai_project_id"
    for finding in answered(exchange, ctx, what=what, unsupported=True):
        yield Finding(
            title=finding.title,
            kind=finding.kind,
            json_path="$",
            expected=finding.expected,
            actual=finding.actual,
            schema_path=REQUEST,
        )
