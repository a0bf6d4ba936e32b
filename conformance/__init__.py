"""conformance: contract-conformance tests for OpenAI-compatible chat-completions APIs.

The public API is what ``__all__`` lists; everything in a ``_module`` is private.
Checks are registered through :mod:`conformance.checks`; the reference server lives in
:mod:`conformance.server`; the pytest plugin in :mod:`conformance.plugin`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from conformance._version import __version__

if TYPE_CHECKING:
    from conformance._errors import (
        ConfigError,
        ConformanceError,
        EndpointUnreachable,
        SpecError,
    )
    from conformance.checks._model import Finding, Severity, Verdict
    from conformance.contract._spec import Contract
    from conformance.contract._validation import Violation
    from conformance.engine._engine import Runner
    from conformance.engine._result import CheckResult
    from conformance.wire._client import ChatClient, Endpoint, Timeouts
    from conformance.wire._exchange import Exchange
    from conformance.wire._sse import FramingProblem, ServerSentEvent, SSEDecoder

# Names are imported on first use, so `import conformance` stays cheap (the pytest plugin
# is imported by every pytest run on a machine where conformance is installed).
_LAZY = {
    "ChatClient": "conformance.wire._client",
    "Endpoint": "conformance.wire._client",
    "Timeouts": "conformance.wire._client",
    "CheckResult": "conformance.engine._result",
    "Runner": "conformance.engine._engine",
    "ConfigError": "conformance._errors",
    "ConformanceError": "conformance._errors",
    "EndpointUnreachable": "conformance._errors",
    "SpecError": "conformance._errors",
    "Exchange": "conformance.wire._exchange",
    "Finding": "conformance.checks._model",
    "Severity": "conformance.checks._model",
    "Verdict": "conformance.checks._model",
    "Contract": "conformance.contract._spec",
    "FramingProblem": "conformance.wire._sse",
    "ServerSentEvent": "conformance.wire._sse",
    "SSEDecoder": "conformance.wire._sse",
    "Violation": "conformance.contract._validation",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def validate(schema: str, instance: Any, *, profile: str = "strict") -> list[Violation]:
    """Every violation of the vendored contract's component ``schema`` by ``instance``.

    ``validate("ChatCompletionResponse", body)`` returns ``[]`` for a valid body.
    """
    from conformance.contract._spec import default_contract

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
