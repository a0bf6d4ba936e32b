"""The conformance suite as pytest items: one test per registered check, and one per
exploration property (requests generated from the contract).

``conformance run`` runs this module. To run it from your own pytest instead::

    pytest --pyargs conformance.suite --conformance-base-url https://host/v1 \\
        --conformance-model some/model      # key from CONFORMANCE_API_KEY

Without a base URL it tests the embedded reference server.
"""

from __future__ import annotations

import json

import pytest

from conformance.checks import registered_checks
from conformance.checks._model import Verdict
from conformance.engine._result import CheckResult
from conformance.explore import PROPERTIES
from conformance.plugin import EXPLORE_MARKER, enforce_verdict
from conformance.report._text import curl_command, render_result
from conformance.run._session import Session
from conformance.wire._visible import visible


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


@pytest.mark.parametrize(
    "conformance_property",
    [
        pytest.param(p.id, id=p.id, marks=getattr(pytest.mark, EXPLORE_MARKER)(p.id))
        for p in PROPERTIES
    ],
    indirect=True,
)
def test_explore(conformance_property: CheckResult, conformance_session: Session) -> None:
    """Judge one exploration property on requests generated from the contract."""
    if conformance_property.verdict is Verdict.FAIL:
        pytest.fail(_explained(conformance_property, conformance_session), pytrace=False)
    enforce_verdict(conformance_property)


def _explained(result: CheckResult, session: Session) -> str:
    """The verdict with, per finding, the smallest example, its fields and a curl line."""
    lines = [render_result(result)]
    exploration = session.exploration
    for found in exploration.discoveries if exploration is not None else []:
        if found.property_id != result.check.id or found.finding.exchange is None:
            continue
        shrunk = "shrunk" if found.shrunk else "smallest seen"
        lines.append(
            f"  {found.finding.title}: {shrunk} example (fields: {', '.join(found.fields())}): "
            f"{json.dumps(found.body)}"
        )
        lines.append(f"    reproduce: {curl_command(found.finding.exchange)}")
    lines.append(f"  replay: --seed {exploration.seed}" if exploration is not None else "")
    return visible("\n".join(lines))
