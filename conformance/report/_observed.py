"""report.html of observed traffic (``conformance proxy``, ``conformance judge``), rendered
from results.json data without pytest: the run's card, checks, faults and evidence sections
(``_html``, ``_html_card``), one page. Its junit.xml is a run's (``_junit.junit_xml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from conformance._version import __version__
from conformance.report._html import STYLE, report_body
from conformance.report._html_card import header_card


def observed_row(data: Mapping[str, Any]) -> str:
    """The card's "observed traffic" line: exchanges, then counts by model and by feature."""
    observed = data.get("observed")
    if not isinstance(observed, Mapping):
        return ""

    def counts(name: str) -> str:
        items = observed.get(name)
        pairs = items.items() if isinstance(items, Mapping) else []
        return ", ".join(f"{escape(str(k))} {escape(str(v))}" for k, v in pairs) or "none"

    head = (
        f"{escape(str(observed.get('exchanges', 0)))} chat-completions exchanges "
        f"({escape(str(observed.get('source', '')))}): "
        f"{escape(str(observed.get('judged', 0)))} judged, "
        f"{escape(str(observed.get('inconclusive', 0)))} inconclusive"
    )
    if observed.get("other_requests"):
        head += f", {escape(str(observed['other_requests']))} other requests forwarded"
    if observed.get("unreadable"):
        head += f", {len(observed['unreadable'])} unreadable entries"
    bodies = "kept" if observed.get("bodies_kept") else "not kept (--keep-bodies keeps them)"
    return (
        '<div class="cf cf-card" id="cf-observed"><h2>Observed traffic</h2><dl>'
        f"<dt>exchanges</dt><dd>{head}</dd>"
        f"<dt>by model</dt><dd>{counts('models')}</dd>"
        f"<dt>by feature</dt><dd>{counts('features')}</dd>"
        f"<dt>prompts and completions</dt><dd>{bodies}</dd></dl></div>"
    )


def observed_page(data: Mapping[str, Any]) -> str:
    """The whole report.html of observed traffic."""
    title = f"conformance: observed traffic to {data.get('endpoint', {}).get('base_url', '')}"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>{STYLE}</head><body>"
        f"{header_card(data)}{observed_row(data)}{report_body(data)}"
        f'<p class="cf">conformance {escape(__version__)}</p></body></html>\n'
    )
