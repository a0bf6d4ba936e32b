"""The check catalogue: one module per feature area, one registry for all."""

from conformance.checks._registry import (
    Check,
    CheckContext,
    NotApplicable,
    NotProvoked,
    Probe,
    Unsupported,
    check,
    get_check,
    get_probe,
    probe,
    probe_of,
    registered_checks,
    registered_probes,
    trial_key,
)

__all__ = [
    "Check",
    "CheckContext",
    "NotApplicable",
    "NotProvoked",
    "Probe",
    "Unsupported",
    "check",
    "get_check",
    "get_probe",
    "probe",
    "probe_of",
    "registered_checks",
    "registered_probes",
    "trial_key",
]
