"""Authentication: the operation requires a bearer key, so a request without one is refused."""

from __future__ import annotations

from collections.abc import Iterator

from conformance.checks._model import Finding, Severity
from conformance.checks._probes import NO_KEY, WRONG_KEY
from conformance.checks._registry import CheckContext, NotApplicable, check
from conformance.wire._exchange import Exchange

HTTP_BEARER = "#/components/securitySchemes/HTTPBearer"
# 401 is what RFC 6750 asks for; 403 is what FastAPI's HTTPBearer answers to a missing key.
REJECTED = (401, 403)
EXPECTED = "401 (403 accepted)"


def _judge(exchange: Exchange, ctx: CheckContext, request: str) -> Iterator[Finding]:
    status = exchange.status
    if status in REJECTED:
        return
    if status is not None and 200 <= status < 300 and not ctx.expect_auth:
        raise NotApplicable(
            f"endpoint is open: {request} was served, so no key is required; pass "
            "--expect-auth if this endpoint must require one"
        )
    if status is not None and 200 <= status < 300:
        title, kind = f"{request} was accepted", "accepted"
    else:
        title, kind = f"{request} was answered with {status} instead of 401", "not 401"
    yield Finding(title=title, kind=kind, expected=EXPECTED, actual=status)


@check(
    area="auth",
    severity=Severity.MUST,
    spec=HTTP_BEARER,
    probes=[NO_KEY.id],
    fix=(
        "Answer a request without an API key with 401 and a JSON error. Usual cause: "
        "authentication switched off, or a missing key treated as a server error."
    ),
)
def auth_missing_key_rejected(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A request without an API key is rejected with 401.

    The operation's security requirement is HTTPBearer; sent only when a key is configured,
    since an open endpoint has nothing to refuse. An endpoint that serves the request needs
    no key (a local server without one): SKIP "endpoint is open", unless ``--expect-auth``
    says it must require one.
    """
    yield from _judge(exchange, ctx, "request without a key")


@check(
    area="auth",
    severity=Severity.MUST,
    spec=HTTP_BEARER,
    probes=[WRONG_KEY.id],
    fix=(
        "Answer a request with a wrong API key with 401 (403 accepted) and a JSON error. "
        "Usual cause: the key checked only for presence, or an auth failure that surfaces "
        "as a 500."
    ),
)
def auth_invalid_key_rejected(exchange: Exchange, ctx: CheckContext) -> Iterator[Finding]:
    """A request with an invalid API key is rejected with 401.

    The key sent is made up, so an endpoint that checks keys cannot know it. Served: SKIP
    "endpoint is open", unless ``--expect-auth``.
    """
    yield from _judge(exchange, ctx, "request with an invalid key")
