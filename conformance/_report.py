"""The HTML report: pytest-html extended only through its hooks and extras.

Renders what the engine concluded; decides nothing. Everything a user must see is also
in static HTML (the summary prefix and postfix), so the page reads without JavaScript.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from typing import Any

import pytest

from conformance._engine import CheckResult
from conformance._exchange import Exchange
from conformance._model import Finding, Verdict
from conformance._results import public_url
from conformance._text import curl_command

STYLE = """
<style>
.cf-card{border:1px solid #ccc;border-radius:6px;padding:12px 16px;margin:12px 0;
 font-family:system-ui,sans-serif}
.cf-card h2{margin:0 0 8px 0;font-size:1.2em}
.cf-card dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:0}
.cf-card dt{font-weight:600}
.cf-verdict-PASS{color:#1a7f37}.cf-verdict-FAIL{color:#cf222e}.cf-verdict-WARN{color:#9a6700}
.cf-verdict-SKIP{color:#57606a}.cf-verdict-ERROR{color:#8250df}
.cf-findings table{border-collapse:collapse;margin:4px 0 8px 0}
.cf-findings td,.cf-findings th{border:1px solid #ddd;padding:2px 6px;vertical-align:top;
 text-align:left;font-size:0.9em}
.cf-evidence pre{white-space:pre-wrap;word-break:break-all;max-height:30em;overflow:auto;
 background:#f6f8fa;padding:6px;font-size:0.85em}
.cf-hit{background:#ffebe9;display:block}
@media print{.cf-evidence pre{max-height:none}}
</style>
"""

BODY_LIMIT = 16 * 1024  # characters of a body shown in the report; the rest is cut visibly


def _cut(text: str, limit: int = BODY_LIMIT) -> str:
    if len(text) <= limit:
        return escape(text)
    return escape(text[:limit]) + escape(f"\n... [cut: {len(text) - limit} more characters]")


def _json(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)


def finding_rows(findings: list[Finding]) -> str:
    rows = "".join(
        "<tr>"
        f"<td>{escape(f.title)}</td><td><code>{escape(f.json_path)}</code></td>"
        f"<td><code>{escape(f.schema_path or '')}</code></td>"
        f"<td><pre>{_cut(_json(f.expected), 2000)}</pre></td>"
        f"<td><pre>{_cut(_json(f.actual), 2000)}</pre></td>"
        f"<td>{f.count}</td>"
        f"<td>{escape(f.exchange.id if f.exchange else '')}"
        f"{'' if f.chunk_index is None else f', event {f.chunk_index}'}</td>"
        "</tr>"
        for f in findings
    )
    return (
        "<table><tr><th>finding</th><th>JSON path</th><th>schema path</th><th>expected</th>"
        f"<th>actual</th><th>count</th><th>exchange</th></tr>{rows}</table>"
    )


def exchange_html(exchange: Exchange, highlight: set[int]) -> str:
    request = exchange.request
    parts = [
        f"<h4>exchange <code>{escape(exchange.id)}</code></h4>",
        f"<pre>{escape(request.method)} {escape(request.url)}\n"
        + escape("\n".join(f"{k}: {v}" for k, v in request.headers.items()))
        + f"\n\n{_cut(_json(request.body))}</pre>",
    ]
    if exchange.error is not None:
        parts.append(f"<p><b>transport error:</b> {escape(exchange.error)}</p>")
    if exchange.status is not None:
        headers = "\n".join(f"{k}: {v}" for k, v in exchange.headers.items())
        parts.append(f"<pre>HTTP {exchange.status}\n{escape(headers)}</pre>")
        if exchange.streamed:
            lines = []
            for event in exchange.events:
                text = escape(f"[{event.index}] {event.raw or 'data: ' + event.data}")
                cls = ' class="cf-hit"' if event.index in highlight else ""
                lines.append(f"<span{cls}>{text}</span>")
            cut = " [cut]" if exchange.body_truncated else ""
            parts.append(
                f"<p>event transcript ({len(exchange.events)} events{cut}):</p>"
                f"<pre>{''.join(lines)}</pre>"
            )
        else:
            body = exchange.text()
            if exchange.body_truncated:
                body += "\n... [cut: the body was longer than the client keeps]"
            parts.append(f"<pre>{_cut(body)}</pre>")
    parts.append(f"<p>reproduce:</p><pre>{escape(curl_command(exchange))}</pre>")
    return "".join(parts)


def result_html(result: CheckResult) -> str:
    check = result.check
    out = [
        f'<div class="cf-evidence cf-findings"><p><b class="cf-verdict-{result.verdict.value}">'
        f"{result.verdict.value}</b> {escape(check.id)}: {escape(check.title)} "
        f"({check.severity.value}, {escape(check.area)}) - spec <code>{escape(check.spec)}"
        "</code></p>"
    ]
    if result.reason:
        out.append(f"<p>{escape(result.reason)}</p>")
    if result.findings:
        out.append(finding_rows(result.findings))
    for exchange in result.exchanges:
        hits = {
            f.chunk_index
            for f in result.findings
            if f.exchange is exchange and f.chunk_index is not None
        }
        out.append(exchange_html(exchange, hits))
    out.append("</div>")
    return "".join(out)


def attach_evidence(config: pytest.Config, report: pytest.TestReport, result: CheckResult) -> None:
    """Add the check's evidence to its row, through pytest-html's extras."""
    if not config.pluginmanager.hasplugin("html"):
        return
    from pytest_html import extras

    # pytest-html reads `extras` from the report; TestReport does not declare it.
    report.extras = [*getattr(report, "extras", []), extras.html(result_html(result))]  # type: ignore[attr-defined]


class HtmlReportHooks:
    """pytest-html hook implementations, registered by the plugin when pytest-html is on."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _session(self) -> Any:
        from conformance.plugin import STATE_KEY

        state = self.config.stash.get(STATE_KEY, None)
        return None if state is None else state.session

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
        prefix.append(STYLE + header_card(run))
        failing = [r for r in run.results if r.verdict in (Verdict.FAIL, Verdict.WARN)]
        if failing:
            postfix.append("<h2>Findings</h2>" + "".join(result_html(r) for r in failing))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="verdict">Verdict</th>')
        cells.insert(2, '<th class="sortable" data-column-type="area">Area</th>')
        cells.insert(3, '<th class="sortable" data-column-type="severity">Severity</th>')

    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        props = dict(report.user_properties)
        verdict = str(props.get("conformance_verdict", ""))
        check_id = str(props.get("conformance_check", ""))
        area = severity = ""
        if check_id:
            from conformance.checks import get_check

            check = get_check(check_id)
            area, severity = check.area, check.severity.value
            cells[1] = f'<td class="col-testId">{escape(check_id)}: {escape(check.title)}</td>'
        cells.insert(1, f'<td class="cf-verdict-{escape(verdict)}">{escape(verdict)}</td>')
        cells.insert(2, f"<td>{escape(area)}</td>")
        cells.insert(3, f"<td>{escape(severity)}</td>")


def header_card(run: Any) -> str:
    data = run.results_data()
    totals = Counter({k: v for k, v in data["totals"].items() if v})
    counts = ", ".join(f"{n} {v}" for v, n in totals.items()) or "no checks ran"
    tokens = data["tokens"]
    rows = [
        (
            "verdict",
            f'<span class="cf-verdict-{"PASS" if data["exit_code"] == 0 else "FAIL"}">'
            f"{escape(data['verdict'])}</span> ({escape(counts)})",
        ),
        (
            "endpoint",
            escape(data["endpoint"]["base_url"])
            + (" (embedded reference server)" if data["endpoint"]["embedded"] else ""),
        ),
        ("model", escape(data["model"])),
        ("profile", escape(data["profile"])),
        (
            "spec",
            f"{escape(data['spec']['title'])} {escape(data['spec']['version'])}, "
            f"sha256 <code>{escape(data['spec']['sha256'])}</code>",
        ),
        ("tool", f"conformance {escape(data['tool']['version'])}"),
        ("started", escape(data["started_at"])),
        ("requests", str(data["requests"])),
        (
            "tokens",
            f"{tokens['total']} ({tokens['prompt']} prompt, {tokens['completion']} completion)",
        ),
    ]
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return f'<div class="cf-card"><h2>Conformance</h2><dl>{body}</dl></div>'
