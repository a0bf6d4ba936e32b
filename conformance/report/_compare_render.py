"""The comparison page (one self-contained HTML file, no JavaScript) and its Markdown twin."""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape
from typing import Any

from conformance._version import __version__
from conformance.report._clients import short
from conformance.report._compare import STATUSES, Column, Matrix, Row
from conformance.report._compare_latency import latency_html, latency_markdown
from conformance.report._html_evidence import anchor
from conformance.wire._latency import figure_text
from conformance.wire._visible import markdown_text

# Plain glyphs for the page (fonts without emoji render them); emoji for Markdown,
# which is read where emoji render.
GLYPHS = {
    "pass": "✓",
    "warn": "!",
    "fail": "✗",
    "unsupported": "⊘",
    "skip": "-",
    "inconclusive": "?",
    "not-run": "·",
}
MARKS = {
    "pass": "✅",
    "warn": "⚠️",
    "fail": "❌",
    "unsupported": "🚫",
    "skip": "⚪",
    "inconclusive": "❓",
    "not-run": "·",
}

DIFFER_LISTED = 8  # differing checks named in the first line of the page
NOTE_HOVER = 500  # characters of a cell's note in its hover title; the details hold it all

STYLE = """
body{font-family:system-ui,sans-serif;color:#1f2328;margin:16px;font-size:14px}
h1{font-size:1.4em;margin:0 0 8px 0}h2{font-size:1.15em;margin:18px 0 6px 0}
table{border-collapse:collapse}
td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
.c-pass{background:#dafbe1}.c-warn{background:#fff8c5}.c-fail{background:#ffebe9}
.c-unsupported{background:#eaeef2}.c-skip{background:#f6f8fa;color:#57606a}
.c-inconclusive{background:#fbefff}.c-not-run{color:#8c959f}
td.c-fail,td.c-warn{font-weight:600}
.area th{background:#eaeef2;font-size:1.05em}
.area.diff-group th{background:#ffebe9}
tr.differs td.check{border-left:4px solid #cf222e}
.area.uncertain-group th{background:#fbefff}
tr.uncertain td.check{border-left:4px solid #8250df}
.uncertain-tag{color:#8250df;font-weight:700;font-size:0.85em}
#endpoint-summary{margin:8px 0 14px 0}td a{color:inherit}
.differs-tag{color:#cf222e;font-weight:700;font-size:0.85em}
.note{white-space:pre-wrap;font-weight:400;font-size:0.85em;max-width:40em;margin:4px 0 0 0}
summary{cursor:pointer}
.muted{color:#57606a;font-size:0.9em}.caveat{color:#9a6700}
@media print{details::details-content{content-visibility:visible;display:block}
 tr{break-inside:avoid}}
"""


def _cell_html(row: Row, index: int, column: Column) -> str:
    cell = row.cells[index]
    text = f"{GLYPHS[cell.status]} {escape(cell.label)}"
    if column.report:  # the check in that run's report, with all its evidence
        text = f'<a href="{escape(column.report)}#{anchor("check", row.check_id)}">{text}</a>'
    if cell.note:
        text += (
            f"<details><summary>findings</summary>"
            f'<pre class="note">{escape(cell.note)}</pre></details>'
        )
    hover = f' title="{escape(cell.note[:NOTE_HOVER])}"' if cell.note else ""
    if cell.cause:
        hover = f' title="cause: {escape(cell.cause)}"'
    return f'<td class="c-{cell.status}"{hover}>{text}</td>'


ROW_CLASS = ("differs", "uncertain", "same")  # by Row.group
GROUP_TITLE = ("where the endpoints differ", "differs only where a run was inconclusive", "")


def _row_html(matrix: Matrix, row: Row) -> str:
    tag = {
        0: ' <span class="differs-tag">differs</span>',
        1: ' <span class="uncertain-tag">inconclusive</span>',
    }.get(row.group, "")
    return (
        f'<tr class="{ROW_CLASS[row.group]}" '
        f'id="{anchor("check", row.check_id)}"><td class="check">'
        f"<code>{escape(row.check_id)}</code>{tag}<br>"
        f'<span class="muted">{escape(row.title)} ({escape(row.severity)})</span></td>'
        + "".join(_cell_html(row, i, c) for i, c in enumerate(matrix.columns))
        + "</tr>"
    )


def _matrix_rows(matrix: Matrix) -> list[str]:
    """Rows with a header row wherever the group (differs, inconclusive, same; area) changes."""
    body = []
    group: tuple[int, str] | None = None
    anchored: set[str] = set()
    for row in matrix.rows:
        if group != (row.group, row.area):
            group = (row.group, row.area)
            ident = "" if row.area in anchored else f' id="{anchor("area", row.area)}"'
            anchored.add(row.area)
            title = escape(row.area) + (
                f": {GROUP_TITLE[row.group]}" if GROUP_TITLE[row.group] else ""
            )
            style = {0: " diff-group", 1: " uncertain-group"}.get(row.group, "")
            body.append(
                f'<tr class="area{style}"{ident}>'
                f'<th colspan="{len(matrix.columns) + 1}">{title}</th></tr>'
            )
        body.append(_row_html(matrix, row))
    return body


def clients_text(clients: Mapping[str, Mapping[str, Any]]) -> str:
    """A run's client readiness in a few words ("openai-python READY, langchain LIMITED
    (streaming)"): the summary row's cell; the readiness table has the evidence."""
    return ", ".join(f"{name} {short(entry)}" for name, entry in clients.items())


def _summary_row(column: Column) -> str:
    """One endpoint in a row: verdict, counts, client readiness, latency; or why it did
    not run, on the page (not only on stderr)."""
    label = escape(column.label)
    if column.report:
        label = f'<a href="{escape(column.report)}">{label}</a>'
    counts = ", ".join(f"{n} {v}" for v, n in column.totals.items() if n) or "no checks ran"
    latency = "; ".join(
        f"{name} {figure_text(column.latency.get(key), 's')}"
        for key, name in (("headers_s", "headers"), ("first_token_s", "first token"))
        if column.latency.get(key)
    )
    why = escape("; ".join([column.why or column.outcome, *column.causes]).strip("; "))
    return (
        f"<tr><th>{label}</th><td>{escape(column.verdict)}</td><td>{escape(counts)}</td>"
        f"<td>{escape(clients_text(column.clients)) or '-'}</td>"
        f"<td>{escape(latency) or '-'}</td>"
        f'<td class="{"caveat" if why else ""}">{why or "-"}</td></tr>'
    )


def summary_table(matrix: Matrix) -> str:
    rows = "".join(_summary_row(c) for c in matrix.columns)
    return (
        '<table id="endpoint-summary"><thead><tr><th>endpoint</th><th>verdict</th>'
        "<th>checks</th><th>clients</th><th>latency p50 / p95</th><th>inconclusive because</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _head(column: Column) -> str:
    """A column's heading: its label, and why its run did not conclude, if it did not."""
    if not column.outcome:
        return escape(column.label)
    return f'{escape(column.label)}<br><span class="caveat outcome">{escape(column.outcome)}</span>'


def render_html(matrix: Matrix) -> str:
    """The whole page: endpoints, per-area scores, then the matrix, differences first."""
    differ = [row for row in matrix.rows if row.differs]
    heads = "".join(f"<th>{_head(c)}</th>" for c in matrix.columns)
    endpoints = "".join(
        f"<tr><th>{escape(c.label)}</th><td>{escape(c.base_url)}"
        + (" (embedded reference server)" if c.embedded else "")
        + f"</td><td>{escape(c.model)}</td><td>{escape(c.profile)}</td>"
        f"<td>{escape(c.verdict)}</td><td>{escape(c.started_at)}</td>"
        f'<td class="muted">{escape(c.path)}</td></tr>'
        for c in matrix.columns
    )
    scores = "".join(
        f'<tr><td><a href="#{anchor("area", area)}">{escape(area)}</a></td>'
        + "".join(
            f"<td>{escape(s.label())}"
            + "".join(
                f" {s.counts[v]} {v}" for v in ("WARN", "FAIL", "SKIP", "ERROR") if s.counts[v]
            )
            + "</td>"
            for s in matrix.scores[area]
        )
        + "</tr>"
        for area in matrix.areas
    )
    body = _matrix_rows(matrix)
    caveats = "".join(f'<p class="caveat">Note: {escape(n)}.</p>' for n in matrix.notes)
    legend = " &nbsp; ".join(f"{GLYPHS[k]} {escape(v)}" for k, v in STATUSES.items())
    uncertain = [row for row in matrix.rows if row.uncertain]
    summary = (
        f"{len(differ)} of {len(matrix.rows)} checks differ between the endpoints"
        if len(matrix.columns) > 1
        else f"{len(matrix.rows)} checks"
    )
    if differ:
        listed = ", ".join(
            f'<a href="#{anchor("check", row.check_id)}"><code>{escape(row.check_id)}</code></a>'
            f" ({escape(' / '.join(cell.label for cell in row.cells))})"
            for row in differ[:DIFFER_LISTED]
        )
        more = f" and {len(differ) - DIFFER_LISTED} more" if len(differ) > DIFFER_LISTED else ""
        summary += f":</b> {listed}{more}<b>"
    apart = (
        f'; <span id="uncertain">{len(uncertain)} more differ only where a run was '
        "inconclusive or did not run (listed after them)</span>"
        if uncertain
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>conformance: comparison of "
        f"{escape(', '.join(c.label for c in matrix.columns))}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>Conformance comparison: {escape(' vs '.join(c.label for c in matrix.columns))}"
        f'</h1><p id="summary"><b>{summary}</b>; rows that differ come first{apart}.</p>'
        f"{summary_table(matrix)}{caveats}"
        f'<table id="matrix"><thead><tr><th>check</th>{heads}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f'<p class="muted">Legend: {legend}. A cell links to the check in that run\'s report; '
        "its findings open below it.</p>"
        f'<h2>Scores per area</h2><table id="scores"><thead><tr><th>area</th>{heads}</tr>'
        f"</thead><tbody>{scores}</tbody></table>"
        '<p class="muted">score = PASS / (PASS + WARN + FAIL + ERROR); SKIP is counted '
        "but not scored; an area with ERRORs is never 100%.</p>"
        f"{latency_html(matrix)}"
        f"{clients_html(matrix)}"
        '<h2>Endpoints</h2><table id="endpoints"><thead><tr><th></th><th>endpoint</th>'
        "<th>model</th><th>profile</th><th>verdict</th><th>started</th><th>results</th></tr>"
        f"</thead><tbody>{endpoints}</tbody></table>"
        f'<p class="muted">conformance {escape(__version__)}</p></body></html>\n'
    )


def client_names(matrix: Matrix) -> list[str]:
    """Every client any run tested, in first-seen order."""
    return list(dict.fromkeys(name for c in matrix.columns for name in c.clients))


def clients_html(matrix: Matrix) -> str:
    """Client readiness per endpoint: READY, LIMITED (features), NOT READY (the replay)."""
    names = client_names(matrix)
    if not names:
        return ""
    heads = "".join(f"<th>{_head(c)}</th>" for c in matrix.columns)
    rows = "".join(
        f"<tr><th>{escape(name)}</th>"
        + "".join(
            f"<td>{escape(short(c.clients[name])) if name in c.clients else 'not run'}</td>"
            for c in matrix.columns
        )
        + "</tr>"
        for name in names
    )
    return (
        '<h2>Client readiness</h2><table id="clients"><thead><tr><th>client</th>'
        f"{heads}</tr></thead><tbody>{rows}</tbody></table>"
        '<p class="muted">Every answer replayed through the client (never the network) and '
        "compared with the suite's reading: READY reads all; LIMITED breaks only on the "
        "features named; NOT READY breaks on a plain answer.</p>"
    )


def clients_markdown(matrix: Matrix) -> list[str]:
    names = client_names(matrix)
    if not names:
        return []
    out = ["", "### Client readiness", ""]
    out.append("| client | " + " | ".join(_md(c.label) for c in matrix.columns) + " |")
    out.append("| --- |" + " --- |" * len(matrix.columns))
    for name in names:
        cells = [short(c.clients[name]) if name in c.clients else "not run" for c in matrix.columns]
        out.append(f"| {_md(name)} | " + " | ".join(_md(x) for x in cells) + " |")
    return out


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell (or a list item): one line, taken literally."""
    return markdown_text(" ".join(text.split("\n"))).strip()


_PLAIN_ID = re.compile(r"[A-Za-z0-9_.:/#-]+")


def _md_id(check_id: str) -> str:
    """A check id as a code span when it is a plain name; else as literal text (a backtick
    in it would close the span, and HTML or a table cell break would follow)."""
    return f"`{check_id}`" if _PLAIN_ID.fullmatch(check_id) else _md(check_id)


def render_markdown(matrix: Matrix) -> str:
    """A Markdown table for an issue or a pull request; findings as numbered notes."""
    names = [c.label for c in matrix.columns]
    out = [f"## Conformance comparison: {' vs '.join(_md(n) for n in names)}", ""]
    differ = sum(1 for row in matrix.rows if row.differs)
    uncertain = sum(1 for row in matrix.rows if row.uncertain)
    apart = (
        f"; {uncertain} more differ only where a run was inconclusive or did not run"
        if uncertain
        else ""
    )
    out.append(
        f"**{differ} of {len(matrix.rows)} checks differ**{apart}; rows that differ come first."
    )
    out.append("")
    out.extend(f"> Note: {_md(n)}." for n in matrix.notes)
    if matrix.notes:
        out.append("")
    out.append("| area | check | " + " | ".join(_md(n) for n in names) + " |")
    out.append("| --- | --- |" + " --- |" * len(names))
    notes: list[tuple[str, str]] = []  # (the column and check, escaped; the note)
    for row in matrix.rows:
        cells = []
        for column, cell in zip(matrix.columns, row.cells, strict=True):
            text = f"{MARKS[cell.status]} {_md(cell.label)}"
            if cell.note:
                notes.append((f"{_md(column.label)} / {_md_id(row.check_id)}", cell.note))
                text += f" [{len(notes)}]"
            cells.append(text)
        tag = " **differs**" if row.differs else " *inconclusive*" if row.uncertain else ""
        check = _md_id(row.check_id) + tag
        out.append(f"| {_md(row.area)} | {check} | " + " | ".join(cells) + " |")
    out.append("")
    out.append("### Scores per area")
    out.append("")
    out.append("| area | " + " | ".join(_md(n) for n in names) + " |")
    out.append("| --- |" + " --- |" * len(names))
    for area in matrix.areas:
        out.append(f"| {_md(area)} | " + " | ".join(s.label() for s in matrix.scores[area]) + " |")
    out.extend(latency_markdown(matrix))
    causes = [(c.label, line) for c in matrix.columns for line in c.causes]
    if causes:  # each once: the cells they left inconclusive do not repeat them
        out += ["", "### Causes of inconclusive checks", ""]
        out += [f"- {_md(label)}: {_md(line)}" for label, line in causes]
    out.extend(clients_markdown(matrix))
    if notes:
        out.append("")
        out.append("### Findings")
        out.append("")
        for number, (head, note) in enumerate(notes, start=1):
            first, *rest = note.split("\n")
            out.append(f"{number}. {head}: {_md(first)}")
            out.extend(f"   - {_md(line)}" for line in rest)
    out.append("")
    out.append(
        "Endpoints: "
        + "; ".join(
            f"{_md(c.label)} = {_md(c.base_url)} ({_md(c.model)}, {_md(c.profile)})"
            + (f" **{_md(c.outcome)}**" if c.outcome else "")
            for c in matrix.columns
        )
    )
    return "\n".join(out) + "\n"
