"""Evidence as static HTML: findings, exchanges (request, status, headers, body or event
transcript with the offending events highlighted) and a curl reproduction.

Rendered from ``results.json`` data. Long values are cut visibly, never silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from types import SimpleNamespace
from typing import Any

from conformance.report._text import curl_command, trial_rate

BODY_LIMIT = 16 * 1024  # characters of a body shown in the report; the rest is cut visibly
VALUE_LIMIT = 2000  # characters of an expected/actual value
EVENTS_HEAD = 100  # events of a long transcript shown from its start...
EVENTS_TAIL = 50  # ...and from its end; highlighted events and their neighbours always
EVENTS_AROUND = 2
APPENDIX_EVENTS = 20  # the exchanges appendix shows fewer: the full transcript is in results.json


def cut(text: str, limit: int = BODY_LIMIT) -> str:
    """``text`` escaped, cut visibly after ``limit`` characters."""
    if len(text) <= limit:
        return escape(text)
    more = len(text) - limit
    return escape(text[:limit]) + f'<span class="cf-cut">\n... [cut: {more} more characters]</span>'


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, default=str)


def anchor(kind: str, name: str) -> str:
    """An id attribute value: ``cf-check-usage_arithmetic``."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return f"cf-{kind}-{safe}"


def findings_table(findings: list[Mapping[str, Any]], known: set[int] | None = None) -> str:
    rows = []
    for i, f in enumerate(findings):
        probes = f.get("probes")  # a finding merged across probes names them all
        shown = probes if isinstance(probes, list) and probes else [f.get("exchange") or ""]
        where = escape(", ".join(str(p) for p in shown))
        if f.get("chunk_index") is not None:
            where += f", event {f['chunk_index']}"
        status = ""
        if known is not None:
            status = (
                '<td class="cf-known">known (baseline)</td>'
                if i in known
                else '<td class="cf-new">new</td>'
            )
        rows.append(
            f'<tr class="cf-finding"><td>{escape(str(f.get("title", "")))}'
            + (f" (seen {f['count']} times)" if f.get("count", 1) > 1 else "")
            + trial_rate(f.get("seen", 1), f.get("trials", 1))
            + _impact_html(f.get("impact"))
            + f"</td><td><code>{escape(str(f.get('json_path', '')))}</code></td>"
            f"<td><code>{escape(str(f.get('schema_path') or ''))}</code></td>"
            f"<td><pre>{cut(as_text(f.get('expected')), VALUE_LIMIT)}</pre></td>"
            f"<td><pre>{cut(as_text(f.get('actual')), VALUE_LIMIT)}</pre></td>"
            f"<td>{where}</td>{status}</tr>"
        )
    baseline_head = "<th>CI gate</th>" if known is not None else ""
    return (
        '<table class="cf-findings"><thead><tr><th>finding</th><th>JSON path</th>'
        "<th>schema path</th><th>expected</th><th>actual</th><th>exchange</th>"
        f"{baseline_head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _impact_html(impact: Any) -> str:
    """Which tested clients the finding breaks (the client replay's measure), or nothing."""
    if not isinstance(impact, Mapping) or not impact.get("summary"):
        return ""
    tone = "FAIL" if impact.get("breaks") else "PASS"
    return (
        f'<br><span class="cf-impact cf-verdict-{tone}">clients: '
        f"{escape(str(impact['summary']))}</span>"
    )


def visible_events(
    count: int, highlight: set[int], head: int = EVENTS_HEAD, tail: int = EVENTS_TAIL
) -> list[int | None]:
    """Indexes of the events to show (``None`` marks a gap): the head, the tail and
    every highlighted event with its neighbours."""
    if count <= head + tail:
        return list(range(count))
    keep = set(range(head)) | set(range(count - tail, count))
    for index in highlight:
        keep |= set(range(max(0, index - EVENTS_AROUND), min(count, index + EVENTS_AROUND + 1)))
    out: list[int | None] = []
    previous = -1
    for index in sorted(keep):
        if index != previous + 1:
            out.append(None)
        out.append(index)
        previous = index
    return out


def transcript_html(
    events: list[Mapping[str, Any]], highlight: set[int], head: int = EVENTS_HEAD
) -> str:
    lines = []
    previous = -1
    for index in visible_events(len(events), highlight, head, min(head, EVENTS_TAIL)):
        if index is None:
            continue
        if index != previous + 1:
            lines.append(
                f'<span class="cf-cut">... [{index - previous - 1} events not shown; '
                "all are in results.json]</span>\n"
            )
        previous = index
        event = events[index]
        text = (
            "".join(f"{name}: {event[name]}\n" for name in ("event", "id") if event.get(name))
            + f"data: {event.get('data', '')}"
        )
        cls = ' class="cf-hit"' if index in highlight else ""
        lines.append(f"<span{cls}>[{index}] {cut(text, VALUE_LIMIT)}</span>\n")
    if previous != len(events) - 1:
        lines.append(f'<span class="cf-cut">... [{len(events) - previous - 1} more events]</span>')
    return f'<pre class="cf-transcript">{"".join(lines)}</pre>'


def exchange_html(exchange: Mapping[str, Any], highlight: set[int], head: int = EVENTS_HEAD) -> str:
    """Request, status, headers, body or event transcript, and a curl line."""
    request = exchange.get("request", {})
    headers = "\n".join(f"{k}: {v}" for k, v in request.get("headers", {}).items())
    parts = [
        "<p>request</p>"
        f"<pre>{escape(str(request.get('method', '')))} {escape(str(request.get('url', '')))}"
        f"\n{escape(headers)}\n\n{cut(as_text(request.get('body')))}</pre>"
    ]
    if isinstance(exchange.get("attempts"), int) and exchange["attempts"] > 1:
        parts.append(
            f"<p>sent {exchange['attempts']} times (retried: "
            f"{escape(as_text(exchange.get('retries')))}); the last attempt is shown</p>"
        )
    if exchange.get("error"):
        parts.append(f"<p><b>transport error:</b> {escape(str(exchange['error']))}</p>")
    response = exchange.get("response")
    if isinstance(response, Mapping):
        headers = "\n".join(f"{k}: {v}" for k, v in response.get("headers", {}).items())
        parts.append(
            f"<p>response</p><pre>HTTP {escape(str(response.get('status')))}\n"
            f"{escape(headers)}</pre>"
        )
        truncated = response.get("body_truncated")
        note = ' <span class="cf-cut">[the body was cut at the client\'s cap]</span>'
        if response.get("streamed"):
            events = list(response.get("events", []))
            parts.append(
                f"<p>event transcript: {len(events)} events"
                + (note if truncated else "")
                + f"</p>{transcript_html(events, highlight, head)}"
            )
        else:
            parts.append(
                "<p>body" + (note if truncated else "") + "</p>"
                f"<pre>{cut(str(response.get('body', '')))}</pre>"
            )
    for problem in exchange.get("framing_problems", []):
        parts.append(
            f"<p>framing: {escape(str(problem.get('title')))} at byte "
            f"{escape(str(problem.get('offset')))}: {escape(str(problem.get('detail')))}</p>"
        )
    curl = curl_command(SimpleNamespace(request=SimpleNamespace(**request)))
    parts.append(f"<p>reproduce</p><pre>{escape(curl)}</pre>")
    return "".join(parts)


def exchanges_section(data: Mapping[str, Any]) -> str:
    """Every exchange once, collapsed: what each check judged."""
    items = []
    for exchange in data.get("exchanges", []):
        exchange_id = str(exchange.get("id"))
        response = exchange.get("response")
        status = response.get("status") if isinstance(response, Mapping) else "no response"
        method = str(exchange.get("request", {}).get("method"))
        items.append(
            f'<details id="{anchor("exchange", exchange_id)}"><summary><code>'
            f"{escape(exchange_id)}</code>: {escape(method)}"
            f" -> {escape(str(status))}</summary>"
            f"{exchange_html(exchange, set(), APPENDIX_EVENTS)}</details>"
        )
    return f'<div class="cf" id="cf-exchanges"><h2>Exchanges</h2>{"".join(items)}</div>'


NOT_RECOVERED = '<b class="cf-verdict-ERROR">no</b>'


def faults_section(data: Mapping[str, Any]) -> str:
    """What went wrong on the way (rate limits, 5xx, cut streams) and whether a retry got
    through: the reason a check may be ERROR rather than PASS or FAIL."""
    faults = [f for f in data.get("faults") or [] if isinstance(f, Mapping)]
    if not faults:
        return ""
    rows = "".join(
        f'<tr><td><a href="#{anchor("exchange", str(f.get("exchange")))}"><code>'
        f"{escape(str(f.get('exchange')))}</code></a></td><td>{escape(str(f.get('kind')))}</td>"
        f"<td>{escape(str(f.get('attempts')))}</td>"
        f"<td>{'yes' if f.get('recovered') else NOT_RECOVERED}</td>"
        f"<td>{escape(str(f.get('message')))}</td></tr>"
        for f in faults
    )
    return (
        '<div class="cf" id="cf-faults"><h2>Network faults</h2><table><thead><tr>'
        "<th>exchange</th><th>kind</th><th>attempts</th><th>recovered</th><th>what happened</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )
