"""The public API is small and deliberate: changing it must be a conscious act."""

from __future__ import annotations

import importlib

import pytest

import conformance

PUBLIC = {
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
}


def test_all_is_exactly_the_public_api():
    assert set(conformance.__all__) == PUBLIC


def test_every_public_name_resolves():
    for name in conformance.__all__:
        assert getattr(conformance, name) is not None


def test_an_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError) as info:
        conformance.NoSuchThing  # noqa: B018
    assert str(info.value) == "module 'conformance' has no attribute 'NoSuchThing'"


def test_checks_package_exports_the_registry_api():
    checks = importlib.import_module("conformance.checks")
    assert set(checks.__all__) == {
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
    }


def test_validate_reports_every_violation_of_a_named_schema():
    assert (
        conformance.validate(
            "Usage", {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
        )
        == []
    )
    violations = conformance.validate("Usage", {"prompt_tokens": "1"})
    assert [(v.json_path, v.summary) for v in violations] == [
        ("$", "required property 'completion_tokens' is missing"),
        ("$", "required property 'total_tokens' is missing"),
        ("$.prompt_tokens", "wrong type: expected integer"),
    ]
