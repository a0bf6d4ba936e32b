"""The conformance suite as pytest items: one test per registered check.

``conformance run`` runs this module. To run it from your own pytest instead::

    pytest --pyargs conformance.suite --conformance-base-url https://host/v1 \\
        --conformance-model some/model      # key from CONFORMANCE_API_KEY

Without a base URL it tests the embedded reference server.
"""

from __future__ import annotations

import pytest

from conformance._engine import CheckResult
from conformance.checks import registered_checks
from conformance.plugin import enforce_verdict


@pytest.mark.parametrize(
    "conformance_check",
    [
        pytest.param(c.id, id=c.id, marks=pytest.mark.conformance_check(c.id))
        for c in registered_checks()
    ],
    indirect=True,
)
def test_check(conformance_check: CheckResult) -> None:
    """Judge one registered check on the endpoint's recorded exchanges."""
    enforce_verdict(conformance_check)
