"""The report's header card, from ``results.json`` data: endpoint, model, profile, contract,
duration, requests and tokens (per phase), the network's faults, latency figures, the CI gate,
and per-area scores. Static HTML, readable without JavaScript, like the rest of the page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from html import escape
from typing import Any

from conformance.report._causes import root_causes
from conformance.report._clients import readiness_html
from conformance.report._html_evidence import anchor, as_text
from conformance.run._scores import VERDICTS, all_checks, area_scores
from conformance.wire._latency import latency_line


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
    rows[1:1] = [("cause", escape(cause.line())) for cause in root_causes(data)]  # by the verdict
    rows.extend(_phase_rows(data))
    latency = latency_line(data)
    if latency is not None:
        rows.append(("latency", f'<span id="cf-latency">{escape(latency)}</span>'))
        spread = histograms_html(data.get("latency") or {})
        if spread:
            rows.append(("spread", spread))
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
    clients = readiness_html(data)
    if clients:
        rows.append(("clients", clients))
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
        f"{scores_table(data)}{verdict_filter(data)}</div>"
    )


def verdict_filter(data: Mapping[str, Any]) -> str:
    """A box per verdict, counted in our words, that shows or hides those checks' rows
    (CSS only: the page reads and filters without JavaScript)."""
    totals = data.get("totals", {})
    boxes, rules = [], []
    for verdict in VERDICTS:
        n = int(totals.get(verdict, 0) or 0)
        box = f"cf-show-{verdict}"
        boxes.append(
            f'<label class="cf-verdict-{verdict}"><input type="checkbox" id="{box}" checked'
            f"{' disabled' if not n else ''}> {n} {verdict}</label>"
        )
        hidden = f"body:has(#{box}:not(:checked))"
        rules.append(
            f"{hidden} tr.cf-row-{verdict},{hidden} #results-table "
            f"tbody:has(td.col-result.cf-verdict-{verdict}){{display:none}}"
        )
    return (
        f"<style>{''.join(rules)}</style>"
        f'<p class="cf-filter" id="cf-filter">Show: {" ".join(boxes)}</p>'
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


def histograms_html(latency: Mapping[str, Any]) -> str:
    """Time to first token and chunk gaps as bar histograms (CSS bars, no script)."""
    parts = []
    for key, label in (("first_token_s", "time to first token"), ("chunk_gap_s", "chunk gaps")):
        stats = latency.get(key)
        buckets = stats.get("histogram") if isinstance(stats, Mapping) else None
        if not buckets:
            continue
        top = max(int(n) for _, n in buckets) or 1
        rows = "".join(
            f"<tr><td>{'≤ ' + str(upper) + ' ms' if upper is not None else 'slower'}</td>"
            f'<td><span class="cf-bar" style="width:{max(1, round(120 * int(n) / top))}px">'
            f"</span> {int(n)}</td></tr>"
            for upper, n in buckets
        )
        parts.append(
            f'<table class="cf-hist" id="cf-hist-{key}"><caption>{escape(label)}</caption>'
            f"<tbody>{rows}</tbody></table>"
        )
    return f'<div class="cf-hists">{"".join(parts)}</div>' if parts else ""
