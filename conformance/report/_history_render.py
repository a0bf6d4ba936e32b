"""The history page: one self-contained HTML file, no JavaScript, charts as inline SVG.

First screen: the regressions still standing (which check broke, on which run, with a link to
that run's report), then every verdict change, newest first. Then, per endpoint: trend
charts (latency p50, tokens), the runs newest first, and each check's verdict run by run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from conformance._version import __version__
from conformance.report._history import Change, History, Run, Series, tokens_trend, trend
from conformance.wire._latency import FIGURES

GRID_RUNS = 30  # runs shown in the verdict grid of a series (the newest)
GLYPH = {"PASS": "✓", "WARN": "!", "FAIL": "✗", "SKIP": "-", "ERROR": "?"}
WIDTH, HEIGHT = 520, 190
LEFT, RIGHT, TOP, BOTTOM = 58, 40, 12, 40  # room for the y labels, the x labels, the titles
X_LABEL_W = 80  # a run's time under the x axis ("12-06 02:53") with a gap

STYLE = """
body{font-family:system-ui,sans-serif;color:#1f2328;margin:16px;font-size:14px}
h1{font-size:1.4em;margin:0 0 8px 0}h2{font-size:1.2em;margin:22px 0 6px 0}
h3{font-size:1.05em;margin:14px 0 4px 0}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left}
th{background:#f6f8fa}.muted{color:#57606a;font-size:0.9em}
.regression{color:#cf222e;font-weight:700}.fix{color:#1a7f37;font-weight:700}
.v-PASS{background:#dafbe1}.v-WARN{background:#fff8c5}.v-FAIL{background:#ffebe9}
.v-ERROR{background:#fbefff}.v-SKIP{background:#f6f8fa;color:#57606a}
#regressions{border:2px solid #cf222e;border-radius:6px;padding:6px 12px;background:#fff5f5}
#regressions.none{border-color:#1a7f37;background:#f0fff4}
.charts{display:flex;flex-wrap:wrap;gap:12px}
svg{border:1px solid #d0d7de;background:#fff}svg text{font-size:11px;fill:#57606a}
svg .line{fill:none;stroke:#0969da;stroke-width:2}svg circle{fill:#0969da}
svg .grid{stroke:#eaeef2}svg text.axis{font-weight:600}
.grid th{white-space:nowrap;font-weight:400;font-size:0.85em}
"""


def _date(run: Run) -> str:
    return run.started_at.replace("T", " ").removesuffix("+00:00") or "(no date)"


def _run_link(run: Run, text: str | None = None) -> str:
    return f'<a href="{escape(run.link)}">{escape(text or _date(run))}</a>'


def _change_line(change: Change, series: Series | None = None) -> str:
    kind = "regression" if change.regression else "fix" if change.fix else "change"
    where = f" on {escape(series.label)}" if series is not None else ""
    verb = "broke" if change.regression else "recovered" if change.fix else "changed"
    return (
        f'<li class="{kind}-item"><code>{escape(change.check)}</code> '
        f'<span class="{kind}">{verb}</span>{where} on the run of {_run_link(change.run)}: '
        f"{escape(change.before)} → {escape(change.after)} "
        f'<span class="muted">(previous run: {_run_link(change.previous)})</span></li>'
    )


def nice_ticks(high: float, count: int = 4) -> list[float]:
    """Round values from 0 to at least ``high`` for an axis: 0, 50, 100, 150."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(math.ceil(high / step - 1e-9) + 1)]


def _short_date(run: Run) -> str:
    """``12-06 02:53``: what fits under a point of a chart."""
    date = _date(run)
    return date[5:16] if len(date) >= 16 else date


def chart(title: str, values: Sequence[float | None], runs: Sequence[Run], unit: str) -> str:
    """A line chart of ``values`` (oldest run left), each point titled with its run: a y axis
    with round values and grid lines, the unit as its label, and as many run times under the
    x axis as fit without overlapping (the first and the last always)."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if not points:
        return ""
    low = min(0.0, *(v for _, v in points))
    ticks = nice_ticks(max(v for _, v in points) - low)
    ticks = [low + t for t in ticks]
    top_value = ticks[-1]
    span = (top_value - low) or 1.0
    steps = max(1, len(values) - 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(index: int, value: float) -> tuple[float, float]:
        x = LEFT + plot_w * index / steps
        y = TOP + plot_h - plot_h * (value - low) / span
        return round(x, 1), round(y, 1)

    coords = [xy(i, v) for i, v in points]
    line = " ".join(f"{x},{y}" for x, y in coords)
    dots = "".join(
        f'<circle cx="{x}" cy="{y}" r="3"><title>{escape(_date(runs[i]))}: '
        f"{_number(v)} {escape(unit)}</title></circle>"
        for (i, v), (x, y) in zip(points, coords, strict=True)
    )
    grid = "".join(
        f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{xy(0, t)[1]}" '
        f'y2="{xy(0, t)[1]}"/><text class="y" x="{LEFT - 4}" y="{xy(0, t)[1] + 4}" '
        f'text-anchor="end">{_number(t)}</text>'
        for t in ticks
    )
    fit = max(2, int(plot_w // X_LABEL_W) + 1)  # labels that fit side by side
    every = max(1, math.ceil(len(runs) / fit))
    shown = sorted({*range(0, len(runs), every), len(runs) - 1})
    if len(shown) > 1 and shown[-1] - shown[-2] < every:
        shown.pop(-2)  # the last label always, never on top of the one before
    anchors = {0: "start", len(runs) - 1: "end"}
    xlabels = "".join(
        f'<text class="x" x="{xy(i, low)[0]}" y="{HEIGHT - BOTTOM + 14}" '
        f'text-anchor="{anchors.get(i, "middle")}">{escape(_short_date(runs[i]))}</text>'
        for i in shown
    )
    return (
        f'<figure><svg role="img" aria-label="{escape(title)}" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{grid}{xlabels}"
        f'<text class="axis" transform="translate(12 {TOP + plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(unit)}</text>'
        f'<text class="axis" x="{LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle">'
        "run started (UTC, oldest left)</text>"
        f'<polyline class="line" points="{line}"/>{dots}</svg>'
        f"<figcaption>{escape(title)} (latest {_number(points[-1][1])} {escape(unit)})"
        "</figcaption></figure>"
    )


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _charts(series: Series) -> str:
    runs = series.runs
    parts = []
    for key, label, unit in FIGURES:
        values = trend(runs, key)
        if unit == "s":
            values = [None if v is None else v * 1000 for v in values]
        parts.append(chart(f"{label}, p50", values, runs, "ms" if unit == "s" else unit))
    parts.append(chart("tokens spent per run", tokens_trend(runs), runs, "tokens"))
    shown = "".join(p for p in parts if p)
    return f'<div class="charts">{shown}</div>' if shown else ""


def _runs_table(series: Series) -> str:
    rows = []
    for run in reversed(series.runs):  # newest first
        totals = run.data.get("totals") or {}
        counts = ", ".join(f"{n} {v}" for v, n in totals.items() if n)
        latency = run.data.get("latency") or {}
        headers = (latency.get("headers_s") or {}).get("p50")
        rows.append(
            f"<tr><td>{_run_link(run)}</td>"
            f'<td class="v-{_tone(run)}">{escape(str(run.data.get("verdict", "")))}</td>'
            f"<td>{escape(counts)}</td><td>{escape(str(run.data.get('requests', '')))}</td>"
            f"<td>{escape(str((run.data.get('tokens') or {}).get('total', '')))}</td>"
            f"<td>{'-' if headers is None else f'{headers * 1000:.0f} ms'}</td></tr>"
        )
    return (
        '<table class="runs"><thead><tr><th>run (newest first)</th><th>verdict</th>'
        "<th>checks</th><th>requests</th><th>tokens</th><th>headers p50</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _tone(run: Run) -> str:
    verdict = str(run.data.get("verdict", ""))
    return {"conformant": "PASS", "nonconformant": "FAIL"}.get(verdict, "ERROR")


def _grid(series: Series) -> str:
    runs = list(reversed(series.runs))[:GRID_RUNS]  # newest first
    changed = {c.check for c in series.changes}
    order = sorted(series.checks, key=lambda c: c not in changed)  # changed checks first
    per_run = [r.verdicts for r in runs]
    heads = "".join(
        f'<th>{_run_link(r, _date(r)[:10])}<br><span class="muted">{escape(_date(r)[11:19])}'
        "</span></th>"
        for r in runs
    )
    rows = []
    for check in order:
        cells = "".join(
            f'<td class="v-{escape(v.get(check, ""))}" title="{escape(_date(r))}">'
            f"{GLYPH.get(v.get(check, ''), '·')}</td>"
            for r, v in zip(runs, per_run, strict=True)
        )
        mark = ' <span class="regression">changed</span>' if check in changed else ""
        rows.append(f"<tr><td><code>{escape(check)}</code>{mark}</td>{cells}</tr>")
    more = (
        f'<p class="muted">The {GRID_RUNS} newest of {len(series.runs)} runs.</p>'
        if len(series.runs) > GRID_RUNS
        else ""
    )
    return (
        f'<table class="grid"><thead><tr><th>check</th>{heads}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def render_history(history: History) -> str:
    """The whole page."""
    runs = [r for s in history.series for r in s.runs]
    of = {id(c): s for s in history.series for c in s.changes}
    standing = sorted(
        (c for s in history.series for c in s.standing()),
        key=lambda c: c.run.started_at,
        reverse=True,
    )
    if standing:
        top = (
            '<div id="regressions"><b>Regressions still standing in the newest run:</b><ul>'
            + "".join(
                _change_line(c, of[id(c)] if len(history.series) > 1 else None) for c in standing
            )
            + "</ul></div>"
        )
    else:
        top = (
            '<div id="regressions" class="none"><b>No check is worse in the newest run than '
            "in the runs before it.</b></div>"
        )
    changes = history.changes()
    listed = "".join(
        _change_line(c, of[id(c)] if len(history.series) > 1 else None) for c in changes
    )
    changes_html = (
        f'<h2>Verdict changes, newest first</h2><ul id="changes">{listed}</ul>'
        if changes
        else '<p id="changes" class="muted">No check changed its verdict across these runs.</p>'
    )
    sections = "".join(
        f'<section class="series"><h2>{escape(s.label)}: {len(s.runs)} runs</h2>'
        f"{_charts(s)}<h3>Runs</h3>{_runs_table(s)}<h3>Verdicts run by run</h3>{_grid(s)}"
        "</section>"
        for s in history.series
    )
    first = min((r.started_at for r in runs), default="")
    last = max((r.started_at for r in runs), default="")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>conformance history: {len(runs)} runs</title><style>{STYLE}</style></head>"
        f"<body><h1>Conformance history: {len(runs)} runs of {len(history.series)} "
        f"endpoint{'s' * (len(history.series) != 1)}</h1>"
        f'<p class="muted">From {escape(first)} to {escape(last)}; ERROR and checks that did '
        "not run are not counted as changes (nothing was concluded).</p>"
        f"{top}{changes_html}{sections}"
        f'<p class="muted">conformance {escape(__version__)}</p></body></html>\n'
    )
