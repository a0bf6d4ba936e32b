"""conformance: contract-conformance tests for OpenAI-compatible chat-completions APIs.

The public API is what ``__all__`` lists; everything in a ``_module`` is private.
Checks are registered through :mod:`conformance.checks`; the reference server lives in
:mod:`conformance.server`; the pytest plugin in :mod:`conformance.plugin`.
"""

from __future__ import annotations

from typing import Any

from conformance._client import ChatClient, Endpoint, Timeouts
from conformance._engine import CheckResult, Runner
from conformance._errors import ConfigError, ConformanceError, EndpointUnreachable, SpecError
from conformance._exchange import Exchange
from conformance._model import Finding, Severity, Verdict
from conformance._spec import Contract, default_contract
from conformance._sse import FramingProblem, ServerSentEvent, SSEDecoder
from conformance._validation import Violation
from conformance._version import __version__


def validate(schema: str, instance: Any, *, profile: str = "strict") -> list[Violation]:
    """Every violation of the vendored contract's component ``schema`` by ``instance``.

    ``validate("ChatCompletionResponse", body)`` returns ``[]`` for a valid body.
    """
    return default_contract(profile).validator(schema).validate(instance)


__all__ = [
    "ChatClient",
    "CheckResult",
    "ConfigError",
    "ConformanceError",
    "Contract",
    "Endpoint",
    "EndpointUnreachable",
    "Exchange",
    "Finding",
    "FramingProblem",
    "Runner",
    "SSEDecoder",
    "ServerSentEvent",
    "Severity",
    "SpecError",
    "Timeouts",
    "Verdict",
    "Violation",
    "__version__",
    "validate",
]
