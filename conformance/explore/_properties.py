"""The exploration properties: what generated requests must show, one result each.

They are reported like checks (one pytest item, one entry in results.json each), but
judged by the explorer on generated requests instead of on the fixed probes.
"""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks import Check, CheckContext
from conformance.checks._model import Finding, Severity
from conformance.wire._exchange import Exchange

AREA = "explore"
REQUEST_SCHEMA = "#/components/schemas/ChatCompletionRequest"
RESPONSES = "#/paths/~1v1~1chat~1completions/post/responses"


def _judged_by_the_explorer(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """Never called: the explorer judges these properties itself."""
    yield from ()


def _property(  # noqa: PLR0917 - six facts per property, read in order
    id: str, severity: Severity, spec: str, title: str, description: str, kind: str
) -> Check:
    return Check(
        id=id,
        title=title,
        area=AREA,
        severity=severity,
        spec=spec,
        probes=(),
        func=_judged_by_the_explorer,
        description=f"{title}.\n\n{description} (generated {kind} requests)",
    )


NO_SERVER_ERRORS = _property(
    "explore_no_server_errors",
    Severity.MUST,
    RESPONSES,
    "No generated request is answered with a 5xx server error",
    "A schema-valid request with any combination of parameters gets an answer, not a crash",
    "valid",
)
VALID_ACCEPTED = _property(
    "explore_valid_accepted",
    Severity.SHOULD,
    f"{RESPONSES}/200",
    "Schema-valid parameter combinations are served",
    "A 4xx for a valid request means the endpoint does not support that combination; "
    "each is a warning that names the parameter and the endpoint's reason",
    "valid",
)
RESPONSE_SCHEMA = _property(
    "explore_response_schema",
    Severity.MUST,
    "#/components/schemas/ChatCompletionResponse",
    "Every answer to a generated request keeps the contract",
    "Each answer is judged by every catalogue check that applies to any exchange: response "
    "and chunk schemas, media types, stream framing and terminator, usage arithmetic",
    "valid",
)
INVALID_REJECTED = _property(
    "explore_invalid_rejected",
    Severity.MUST,
    REQUEST_SCHEMA,
    "Generated schema-invalid requests are rejected with a 4xx and a JSON error body",
    "Each request breaks one rule of ChatCompletionRequest (a number out of range, a wrong "
    "type, a missing required field, a bad enum, a malformed nested object)",
    "invalid",
)
RECOVERS = _property(
    "explore_recovers",
    Severity.MUST,
    f"{RESPONSES}/200",
    "A plain valid request right after each invalid one is answered correctly",
    "An invalid request must not leave the endpoint broken for the next one",
    "invalid",
)

PROPERTIES: tuple[Check, ...] = (
    NO_SERVER_ERRORS,
    VALID_ACCEPTED,
    RESPONSE_SCHEMA,
    INVALID_REJECTED,
    RECOVERS,
)
POSITIVE = (NO_SERVER_ERRORS.id, VALID_ACCEPTED.id, RESPONSE_SCHEMA.id)
NEGATIVE = (INVALID_REJECTED.id, RECOVERS.id)


def get_property(property_id: str) -> Check:
    for found in PROPERTIES:
        if found.id == property_id:
            return found
    known = ", ".join(p.id for p in PROPERTIES)
    raise KeyError(f"no exploration property {property_id!r}; known: {known}")
