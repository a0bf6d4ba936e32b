"""What the engine changes in a probe's body before sending it, learned from the contract in
force and from the endpoint's own refusals (issue 19):

- a field the probe marks ``if_declared`` is sent only when the request schema in force
  declares it (``extra_body`` is an SDK argument under the openai profile, not a wire field);
- an endpoint that refuses ``max_tokens`` as an unsupported parameter (OpenAI's reasoning
  models: use ``max_completion_tokens``) gets the refused request once more with
  ``max_completion_tokens``, and every later request of the run is sent that way.

One place for both, so that every probe, trial and follow-up is shaped alike.
"""

from __future__ import annotations

from typing import Any

from conformance.checks import Probe
from conformance.checks._support import unsupported_parameter
from conformance.contract._spec import Contract
from conformance.wire._exchange import Exchange

LEGACY_CAP = "max_tokens"
CAP = "max_completion_tokens"


class Shaper:
    """Shapes the bodies of one run; remembers what the endpoint refused."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.completion_cap = False  # learned: the endpoint refuses max_tokens

    def shape(self, probe: Probe, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` as it is sent: undeclared ``if_declared`` fields left out, and
        ``max_tokens`` sent as ``max_completion_tokens`` once the endpoint refused it."""
        if probe.if_declared:
            declared = self.contract.schema("ChatCompletionRequest").get("properties", {})
            body = {k: v for k, v in body.items() if k not in probe.if_declared or k in declared}
        if self.completion_cap and LEGACY_CAP in body:
            body = _as_completion_cap(body)
        return body

    def resend(
        self, probe: Probe, body: dict[str, Any], exchange: Exchange
    ) -> dict[str, Any] | None:
        """The body to send once more when ``exchange`` refused ``max_tokens`` as an
        unsupported parameter (learned for the rest of the run), else None."""
        if LEGACY_CAP not in body or unsupported_parameter(exchange) != LEGACY_CAP:
            return None
        self.completion_cap = True
        return _as_completion_cap(body)


def _as_completion_cap(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with its ``max_tokens`` sent as ``max_completion_tokens`` (kept when the
    body already has one)."""
    out = {k: v for k, v in body.items() if k != LEGACY_CAP}
    out.setdefault(CAP, body[LEGACY_CAP])
    return out
