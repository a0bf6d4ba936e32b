"""Static HTML for one run, rendered from its ``results.json`` data.

No pytest and no click here: ``_report`` hands these fragments to pytest-html through its
hooks. Everything is server-rendered, so the page reads without JavaScript; long parts sit
in ``<details>``, which works without JavaScript and opens for printing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

from conformance._baseline import finding_identity, same
from conformance._html_evidence import (
    anchor,
    as_text,
    cut,
    exchange_html,
    exchanges_section,
    faults_section,
    findings_table,
)
from conformance._latency import latency_line
from conformance._scores import VERDICTS, all_checks, area_scores

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
    "latency",
}  # fmt: skip


def _verdict(verdict: str) -> str:
    return f'<b class="cf-verdict-{escape(verdict)}">{escape(verdict)}</b>'


# --- the header card ---------------------------------------------------------------------


def header_card(data: Mapping[str, Any]) -> str:
    """The card at the top: what was tested, the outcome, and per-area scores."""
    totals = data.get("totals", {})
    counts = ", ".join(f"{totals[v]} {v}" for v in VERDICTS if totals.get(v)) or "no checks ran"
    tokens = data.get("tokens", {})
    endpoint = data.get("endpoint", {})
    spec = data.get("spec", {})
    tone = {"conformant": "PASS", "nonconformant": "FAIL"}.get(str(data.get("verdict")), "ERROR")
    rows: list[tuple[str, str]] = [
        (
            "verdict",
            f'<span class="cf-verdict-{tone}" id="cf-verdict">'
            f"{escape(str(data.get('verdict', '')))}</span> ({escape(counts)}); "
            f"exit code {escape(str(data.get('exit_code')))}",
        ),
        (
            "endpoint",
            escape(str(endpoint.get("base_url", "")))
            + (" (embedded reference server)" if endpoint.get("embedded") else "")
            + (" in model-like mode" if endpoint.get("server_mode") == "model" else ""),
        ),
        ("model", escape(str(data.get("model", "")))),
        ("profile", escape(str(data.get("profile", "")))),
        (
            "spec",
            f"{escape(str(spec.get('title', '')))} {escape(str(spec.get('version', '')))}, "
            f"sha256 <code>{escape(str(spec.get('sha256', '')))}</code>",
        ),
        ("tool", f"conformance {escape(str(data.get('tool', {}).get('version', '')))}"),
        ("started", escape(str(data.get("started_at", "")))),
        ("duration", f"{float(data.get('duration_s', 0)):.1f} s"),
        ("requests", escape(str(data.get("requests", 0)))),
        (
            "tokens",
            f"{tokens.get('total', 0)} ({tokens.get('prompt', 0)} prompt, "
            f"{tokens.get('completion', 0)} completion)"
            + (
                f"; {tokens['unreported_exchanges']} exchanges reported no usage (estimated)"
                if tokens.get("unreported_exchanges")
                else ""
            ),
        ),
    ]
    for verdict in ("FAIL", "WARN", "ERROR"):
        names = [str(c.get("id")) for c in all_checks(data) if c.get("verdict") == verdict]
        if names:
            rows.append(
                (
                    verdict,
                    ", ".join(
                        f'<a href="#{anchor("check", n)}"><code>{escape(n)}</code></a>'
                        for n in names
                    ),
                )
            )
    rows.extend(_phase_rows(data))
    latency = latency_line(data)
    if latency is not None:
        rows.append(("latency", f'<span id="cf-latency">{escape(latency)}</span>'))
    faults = [f for f in data.get("faults") or [] if isinstance(f, Mapping)]
    if faults:
        kinds = Counter(str(f.get("kind", "")) for f in faults)
        lost = sum(1 for f in faults if not f.get("recovered"))
        rows.append(
            (
                "faults",
                ", ".join(f"{n} {escape(k)}" for k, n in kinds.items())
                + (
                    f'; <b class="cf-verdict-ERROR">{lost} not recovered</b>'
                    if lost
                    else "; all recovered"
                )
                + ' (<a href="#cf-faults">details</a>)',
            )
        )
    rows.extend(_network_rows(data))
    if data.get("partial"):
        rows.append(("partial", '<b class="cf-verdict-WARN">the run stopped early</b>'))
    for note in data.get("notes", []):
        rows.append(("note", escape(str(note))))
    gate = data.get("gate")
    if isinstance(gate, Mapping):
        rows.append(("CI gate", gate_html(gate)))
    body = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows)
    return (
        f'<div class="cf cf-card" id="cf-header"><h2>Conformance: '
        f"{escape(str(endpoint.get('base_url', '')))}</h2><dl>{body}</dl>"
        f"{scores_table(data)}</div>"
    )


def _spent(part: Mapping[str, Any]) -> str:
    tokens = part.get("tokens")
    total = tokens.get("total") if isinstance(tokens, Mapping) else tokens
    return f"{escape(str(part.get('requests', 0)))} requests, {escape(str(total or 0))} tokens"


def _phase_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    phases = data.get("phases")
    if isinstance(phases, Mapping) and phases:
        rows.append(
            (
                "phases",
                "; ".join(
                    f"{escape(str(name))}: {_spent(part)}"
                    for name, part in phases.items()
                    if isinstance(part, Mapping)
                ),
            )
        )
    explore = data.get("explore")
    if isinstance(explore, Mapping):
        kinds = explore.get("phases", {})
        sent = ", ".join(
            f"{escape(str(kind))} {escape(str(part.get('sent', 0)))} of "
            f"{escape(str(part.get('planned', 0)))} sent"
            for kind, part in (kinds.items() if isinstance(kinds, Mapping) else [])
            if isinstance(part, Mapping)
        )
        stopped = explore.get("stopped_by")
        rows.append(
            (
                "exploration",
                f"seed {escape(str(explore.get('seed')))}, "
                f"{escape(str(explore.get('examples')))} examples"
                + (f"; {sent}" if sent else "")
                + (
                    f'; <b class="cf-verdict-WARN">stopped: {escape(str(stopped))}</b>'
                    if stopped
                    else ""
                )
                + ' (<a href="#cf-more-explore">details</a>)',
            )
        )
    return rows


def _network_rows(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = []
    network = data.get("network")
    insecure = data.get("insecure") or (
        isinstance(network, Mapping) and network.get("tls_verify") is False
    )
    if insecure:
        rows.append(("TLS", '<b class="cf-verdict-WARN">certificates not verified (insecure)</b>'))
    if isinstance(network, Mapping):
        if network.get("insecure_http"):
            rows.append(("HTTP", '<b class="cf-verdict-WARN">plain http allowed</b>'))
        if network.get("interrupted"):
            rows.append(
                (
                    "interrupted",
                    f'<b class="cf-verdict-WARN">{escape(as_text(network["interrupted"]))}</b>',
                )
            )
        timeouts = network.get("timeouts_s")
        parts = [
            f"{escape(str(k))} {escape(str(network[k]))}"
            for k in ("concurrency", "retries", "rate_limit")
            if network.get(k) is not None
        ]
        if isinstance(timeouts, Mapping):
            parts.append(
                "timeouts "
                + ", ".join(f"{escape(str(k))} {escape(str(v))} s" for k, v in timeouts.items())
            )
        if parts:
            rows.append(("network", "; ".join(parts)))
    return rows


def gate_html(gate: Mapping[str, Any]) -> str:
    parts = [f"fails on {escape(str(gate.get('fail_on', 'fail')).upper())}"]
    if gate.get("baseline"):
        parts.append(
            f"baseline <code>{escape(str(gate['baseline']))}</code>: "
            f"{len(gate.get('known', []))} known, "
            f'<span class="{"cf-new" if gate.get("new") else ""}">'
            f"{len(gate.get('new', []))} new</span>, {len(gate.get('stale', []))} stale"
            + (" (stale entries fail: --strict-baseline)" if gate.get("strict_baseline") else "")
        )
    return "; ".join(parts)


def scores_table(data: Mapping[str, Any]) -> str:
    """Per-area score and verdict counts; each area links to its checks below."""
    extra = data.get("areas") if isinstance(data.get("areas"), Mapping) else {}
    rows = []
    for score in area_scores(all_checks(data)):
        cells = "".join(
            f'<td class="cf-n{" cf-zero" if not n else ""}">{n}</td>'
            for n in (score.counts[v] for v in VERDICTS)
        )
        spent = extra.get(score.area, {}) if isinstance(extra, Mapping) else {}
        cost = ""
        if isinstance(spent, Mapping) and spent:
            # checks are counted in the verdict columns already
            cost = ", ".join(
                f"{escape(str(v))} {escape(str(k))}" for k, v in spent.items() if k != "checks"
            )
        bad = ' class="cf-bad"' if score.counts["FAIL"] or score.counts["WARN"] else ""
        rows.append(
            f'<tr{bad}><td><a href="#{anchor("area", score.area)}">{escape(score.area)}</a></td>'
            f"<td>{escape(score.label())}</td>{cells}"
            + (f"<td>{cost}</td>" if extra else "")
            + "</tr>"
        )
    head = "".join(f"<th>{v}</th>" for v in VERDICTS)
    cost_head = (
        '<th title="requests sent and tokens billed for this area">spent</th>' if extra else ""
    )
    return (
        '<table class="cf-scores"><thead><tr><th>area</th><th>score</th>'
        f"{head}{cost_head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# --- checks and their evidence ----------------------------------------------------------


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
