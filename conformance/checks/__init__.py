"""The check catalogue: one module per feature area, one registry for all."""

from conformance.checks._registry import (
    Check,
    CheckContext,
    NotApplicable,
    Probe,
    Unsupported,
    check,
    get_check,
    get_probe,
    probe,
    registered_checks,
    registered_probes,
)

__all__ = [
    "Check",
    "CheckContext",
    "NotApplicable",
    "Probe",
    "Unsupported",
    "check",
    "get_check",
    "get_probe",
    "probe",
    "registered_checks",
    "registered_probes",
]
