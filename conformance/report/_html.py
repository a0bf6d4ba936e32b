"""Static HTML for one run, rendered from its ``results.json`` data.

No pytest and no click here: ``_report`` hands these fragments to pytest-html through its
hooks. Everything is server-rendered, so the page reads without JavaScript; long parts sit
in ``<details>``, which works without JavaScript and opens for printing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from conformance.report._fixes import docs_link, fix_hint
from conformance.report._html_evidence import (
    anchor,
    as_text,
    cut,
    exchange_html,
    exchanges_section,
    faults_section,
    findings_table,
)
from conformance.run._baseline import finding_identity, same
from conformance.run._scores import all_checks, area_scores

STYLE = """
<style>
body{display:flex;flex-direction:column}
body>.summary,.summary>.summary__data{display:contents}
.summary__spacer{display:none}
.additional-summary.prefix{order:-1}
.cf{color:#1f2328;font-family:system-ui,sans-serif}
.cf a{color:#0969da}
.cf-card{border:1px solid #ccc;border-radius:6px;padding:12px 16px;margin:12px 0;background:#fff}
.cf-card h2{margin:0 0 8px 0;font-size:1.3em}
.cf-card dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:0 0 10px 0}
.cf-card dt{font-weight:600}.cf-card dd{margin:0}
.cf-verdict-PASS{color:#1a7f37}.cf-verdict-FAIL{color:#cf222e}.cf-verdict-WARN{color:#9a6700}
.cf-verdict-SKIP{color:#57606a}.cf-verdict-ERROR{color:#8250df}
.cf-verdict-FAIL,.cf-verdict-WARN,.cf-verdict-ERROR{font-weight:700}
.cf table{border-collapse:collapse;margin:4px 0 8px 0}
.cf td,.cf th{border:1px solid #ddd;padding:2px 6px;vertical-align:top;text-align:left;
 font-size:0.9em}
.cf-scores td.cf-n{text-align:right}.cf .cf-zero{color:#aaa}
.cf-scores tr.cf-bad td:first-child{border-left:3px solid #cf222e}
.cf-known{color:#57606a;font-style:italic}.cf-new{color:#cf222e;font-weight:700}
.cf pre{white-space:pre-wrap;word-break:break-all;max-height:30em;overflow:auto;
 background:#f6f8fa;padding:6px;font-size:0.85em;margin:2px 0}
.cf-hit{background:#ffebe9;display:block;border-left:3px solid #cf222e}
.cf-cut{color:#9a6700;font-style:italic}
.cf summary{cursor:pointer}
.cf-fix{background:#ddf4ff;border-left:3px solid #0969da;padding:4px 8px;margin:4px 0}
.cf-hists{display:flex;gap:16px;align-items:flex-start}.cf-hist caption{text-align:left}
.cf-hist td{border:none;padding:0 6px;font-size:0.85em}
.cf-bar{display:inline-block;height:9px;background:#0969da;vertical-align:middle}
.cf-checks>tbody>tr>td:first-child{white-space:nowrap}
@media print{
 .controls,.filter,.summary__reload,#results-table,#environment-header,#environment{display:none}
 .cf pre{max-height:none;overflow:visible}
 details::details-content{content-visibility:visible;display:block}
 details>summary{list-style:none}
 .cf tr{break-inside:avoid}
}
</style>
"""

# Fields rendered in the card or the tables; any other field of results.json is shown as
# data under "More from results.json", so that nothing a run recorded is hidden.
SHOWN = {
    "schema_version", "tool", "endpoint", "model", "profile", "spec", "started_at",
    "duration_s", "partial", "notes", "verdict", "exit_code", "totals", "requests",
    "tokens", "checks", "exchanges", "gate", "insecure", "areas", "phases", "faults",
    "latency", "observed",
}  # fmt: skip


def _verdict(verdict: str) -> str:
    return f'<b class="cf-verdict-{escape(verdict)}">{escape(verdict)}</b>'


# --- the header card ---------------------------------------------------------------------


def check_html(
    check: Mapping[str, Any],
    exchanges: Mapping[str, Mapping[str, Any]],
    known: set[int] | None = None,
) -> str:
    """A check's conclusion: reason, findings, and the exchanges that showed them."""
    out = [
        f'<div class="cf cf-check"><p>{_verdict(str(check.get("verdict", "")))} '
        f"{escape(str(check.get('id', '')))}: {escape(str(check.get('title', '')))} "
        f"({escape(str(check.get('severity', '')))}, {escape(str(check.get('area', '')))})"
        f" - spec <code>{escape(str(check.get('spec', '')))}</code></p>"
    ]
    if check.get("verdict") in ("FAIL", "WARN"):
        out.append(fix_html(str(check.get("id", ""))))
    if check.get("unsupported"):
        out.append("<p>unsupported: the endpoint declined the feature with a proper 4xx</p>")
    if check.get("reason"):
        out.append(f"<p>{escape(str(check['reason']))}</p>")
    findings = list(check.get("findings", []))
    if findings:
        out.append(findings_table(findings, known))
    shown = list(dict.fromkeys(str(f.get("exchange")) for f in findings if f.get("exchange")))
    for exchange_id in shown:
        exchange = exchanges.get(exchange_id)
        if exchange is None:
            continue
        hits = {
            int(f["chunk_index"])
            for f in findings
            if f.get("exchange") == exchange_id and f.get("chunk_index") is not None
        }
        out.append(
            f"<details><summary>exchange <code>{escape(exchange_id)}</code>"
            + (
                f": event{'s' if len(hits) > 1 else ''} "
                f"{', '.join(map(str, sorted(hits)))} highlighted"
                if hits
                else ""
            )
            + f"</summary>{exchange_html(exchange, hits)}</details>"
        )
    others = [str(e) for e in check.get("exchanges", []) if str(e) not in shown]
    if others:
        links = ", ".join(
            f'<a href="#{anchor("exchange", e)}"><code>{escape(e)}</code></a>' for e in others
        )
        out.append(f"<p>exchanges judged: {links}</p>")
    out.append("</div>")
    return "".join(out)


def fix_html(check_id: str) -> str:
    """How to fix a failure of ``check_id`` (its ``@check(fix=...)``), linked to its section
    of docs/checks.md; "" for a check without one (an old run's check no longer known)."""
    fix = fix_hint(check_id)
    if not fix:
        return ""
    return (
        f'<p class="cf-fix"><b>How to fix:</b> {escape(fix)} '
        f'(<a href="{escape(docs_link(check_id))}">docs/checks.md</a>)</p>'
    )


def known_indexes(data: Mapping[str, Any], check: Mapping[str, Any]) -> set[int] | None:
    """Which of a check's findings the baseline knows (None: no baseline in use)."""
    gate = data.get("gate")
    if not isinstance(gate, Mapping) or not gate.get("baseline"):
        return None
    known = [dict(k) for k in gate.get("known", [])]
    return {
        i
        for i, f in enumerate(check.get("findings", []))
        if any(same(finding_identity(check, f), k) for k in known)
    }


def checks_section(data: Mapping[str, Any]) -> str:
    """Every check, area by area, with all its evidence: the page without JavaScript."""
    exchanges = {str(e.get("id")): e for e in data.get("exchanges", [])}
    checks = all_checks(data)
    out = ['<div class="cf" id="cf-checks"><h2>Checks</h2>']
    for score in area_scores(checks):
        rows = []
        for check in (c for c in checks if c.get("area") == score.area):
            verdict = str(check.get("verdict", ""))
            rows.append(
                f'<tr id="{anchor("check", str(check.get("id", "")))}" '
                f'class="cf-row cf-row-{escape(verdict)}"><td>{_verdict(verdict)}</td>'
                f"<td>{escape(str(check.get('severity', '')))}</td>"
                f"<td>{check_html(check, exchanges, known_indexes(data, check))}</td></tr>"
            )
        out.append(
            f'<h3 id="{anchor("area", score.area)}">{escape(score.area)}: '
            f"{escape(score.label())}</h3>"
            '<table class="cf-checks"><thead><tr><th>verdict</th><th>severity</th>'
            f"<th>check</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
    out.append("</div>")
    return "".join(out)


def other_data_section(data: Mapping[str, Any]) -> str:
    """Fields with no dedicated view (exploration details, network settings, faults, and
    whatever a later version adds), shown as data so that nothing in results.json is hidden."""
    extra = {k: v for k, v in data.items() if k not in SHOWN and v not in (None, [], {})}
    if not extra:
        return ""
    items = "".join(
        f'<details id="{anchor("more", k)}"><summary>{escape(k)}</summary>'
        f"<pre>{cut(as_text(v))}</pre></details>"
        for k, v in extra.items()
    )
    return f'<div class="cf" id="cf-other"><h2>More from results.json</h2>{items}</div>'


def report_body(data: Mapping[str, Any]) -> str:
    """The static part below pytest-html's summary: checks, faults, other data, exchanges."""
    return (
        checks_section(data)
        + faults_section(data)
        + other_data_section(data)
        + exchanges_section(data)
    )


def exchange_map(exchanges: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """``{id: exchange.to_dict()}`` for live ``Exchange`` objects."""
    return {e.id: e.to_dict() for e in exchanges}
