"""report.html and junit.xml of observed traffic (``conformance proxy``, ``conformance judge``),
rendered from results.json data without pytest: the run's card, checks, faults and evidence
sections (``_html``, ``_html_card``), one page; and JUnit in the shape a run's pytest writes
(one test case per check, FAIL as a failure, ERROR as an error, SKIP as skipped, the failure
text as the terminal renders it).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any
from xml.etree import ElementTree

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


def _failure_text(check: Mapping[str, Any]) -> str:
    lines = [f"{check.get('id')}: {check.get('title')}", f"  spec: {check.get('spec')}"]
    for finding in check.get("findings", []):
        seen = f" (in {finding.get('seen')} of {finding.get('trials')} exchanges)"
        lines.append(f"  x {finding.get('title')}{seen}")
        lines.append(f"    at {finding.get('json_path')}")
        lines.append(f"    expected: {finding.get('expected')!s:.300}")
        lines.append(f"    actual:   {finding.get('actual')!s:.300}")
        if finding.get("exchange"):
            lines.append(f"    exchange {finding.get('exchange')}")
    if check.get("reason"):
        lines.append(f"  reason: {check.get('reason')}")
    return "\n".join(lines)


def observed_junit(data: Mapping[str, Any]) -> str:
    """junit.xml of observed traffic: one test case per check."""
    checks = [c for c in data.get("checks", []) if isinstance(c, Mapping)]
    totals = data.get("totals", {})
    suite = ElementTree.Element(
        "testsuite",
        name="conformance",
        tests=str(len(checks)),
        failures=str(totals.get("FAIL", 0)),
        errors=str(totals.get("ERROR", 0)),
        skipped=str(totals.get("SKIP", 0)),
        time=str(data.get("duration_s", 0)),
        timestamp=str(data.get("started_at", "")),
    )
    properties = ElementTree.SubElement(suite, "properties")
    for name in ("verdict", "model", "profile"):
        ElementTree.SubElement(properties, "property", name=name, value=str(data.get(name, "")))
    ElementTree.SubElement(properties, "property", name="source", value="observed traffic")
    if data.get("partial"):
        ElementTree.SubElement(properties, "property", name="partial", value="true")
    for check in checks:
        case = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"conformance.{check.get('area', '')}",
            name=str(check.get("id", "")),
            time=str(check.get("duration_s", 0)),
        )
        verdict = check.get("verdict")
        text = _failure_text(check)
        if verdict == "FAIL":
            ElementTree.SubElement(case, "failure", message=str(check.get("title"))).text = text
        elif verdict == "ERROR":
            ElementTree.SubElement(case, "error", message=str(check.get("reason"))).text = text
        elif verdict == "SKIP":
            ElementTree.SubElement(case, "skipped", message=str(check.get("reason")))
        elif verdict == "WARN":
            ElementTree.SubElement(case, "system-out").text = text
    body = ElementTree.tostring(ElementTree.Element("testsuites"), encoding="unicode")
    inner = ElementTree.tostring(suite, encoding="unicode")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + body.replace("<testsuites />", f"<testsuites>{inner}</testsuites>")
        + "\n"
    )
