"""The HTML report: pytest-html extended only through its hooks and extras.

Renders what the engine concluded (``_html`` turns results data into HTML); decides
nothing. Everything a user must see is also in static HTML (the summary prefix and
postfix), so the page reads without JavaScript; the header card is moved to the very
top of the page by CSS delivered in the same prefix.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

import pytest

from conformance.engine._result import CheckResult
from conformance.report._html import STYLE, check_html, exchange_map, report_body
from conformance.report._html_card import header_card
from conformance.run._results import public_url

# pytest-html's own parts that speak pytest (its attribution line, the Environment block of
# Python and plugin versions, "N tests took", outcome filter boxes counting pytest's
# outcomes, the captured-log pane): hidden; the card above says all of it in our words.
PYTEST_HTML_HIDDEN = (
    "<style>#title+p,#environment-header,#environment,.run-count,p.filter,"
    ".controls .filters,.logwrapper{display:none}</style>"
)


def result_html(result: CheckResult) -> str:
    """A check's evidence for its row in pytest-html's (JavaScript) results table."""
    return check_html(result.to_dict(), exchange_map(result.exchanges))


def attach_evidence(config: pytest.Config, report: pytest.TestReport, result: CheckResult) -> None:
    """Add the check's evidence to its row, through pytest-html's extras."""
    if not config.pluginmanager.hasplugin("html"):
        return
    from pytest_html import extras

    # pytest-html reads `extras` from the report; TestReport does not declare it.
    report.extras = [*getattr(report, "extras", []), extras.html(result_html(result))]  # type: ignore[attr-defined]


class HtmlReportHooks:
    """pytest-html hook implementations, registered by the plugin when pytest-html is on."""

    def __init__(self, config: pytest.Config, session: Callable[[], Any]) -> None:
        self.config = config
        # The plugin's session as it is when a hook runs (handed over by the CLI, or opened
        # lazily): asked for, not imported, so the report never imports the plugin.
        self._session = session

    def pytest_html_report_title(self, report: Any) -> None:
        session = self._session()
        if session is not None:
            host = public_url(session.endpoint.base_url)
            report.title = f"conformance: {host} ({session.endpoint.model})"

    def pytest_html_results_summary(
        self, prefix: list[str], summary: list[str], postfix: list[str], session: Any
    ) -> None:
        run = self._session()
        if run is None:
            return
        data = self._written() or run.results_data()
        prefix.append(STYLE + PYTEST_HTML_HIDDEN + header_card(data))
        postfix.append(report_body(data))

    def _written(self) -> dict[str, Any] | None:
        """The results.json this run wrote (the plugin writes it first), so that the page
        shows exactly what the file says, down to the duration."""
        path = self.config.getoption("conformance_results", None)
        if not path:
            return None
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def pytest_metadata(self, metadata: dict[str, Any]) -> None:
        """No Environment block (Python, pluggy, plugins): the card says what was tested."""
        metadata.clear()

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        # pytest's words replaced by ours: its outcome column shows our verdict (the cell
        # keeps pytest-html's class, which opens a row's evidence), a test is a check.
        cells[:] = [
            '<th class="sortable" data-column-type="result">Verdict</th>',
            '<th class="sortable" data-column-type="area">Area</th>',
            '<th class="sortable" data-column-type="severity">Severity</th>',
            '<th class="sortable" data-column-type="testId">Check</th>',
            '<th class="sortable" data-column-type="duration">Duration</th>',
        ]

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        props = dict(report.user_properties)
        verdict = str(props.get("conformance_verdict", ""))
        check_id = str(props.get("conformance_check", ""))
        area = severity = ""
        test_cell, duration = cells[1], cells[2]
        if check_id:
            from conformance.checks import get_check
            from conformance.explore import get_property

            try:
                check = get_check(check_id)
            except KeyError:  # an exploration property, reported like a check
                check = get_property(check_id)
            area, severity = check.area, check.severity.value
            test_cell = f'<td class="col-testId">{escape(check_id)}: {escape(check.title)}</td>'
        cells[:] = [
            f'<td class="col-result cf-verdict-{escape(verdict)}">{escape(verdict)}</td>',
            f"<td>{escape(area)}</td>",
            f"<td>{escape(severity)}</td>",
            test_cell,
            duration,
        ]
