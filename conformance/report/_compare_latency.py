"""The comparison's latency table: each run's p50/p95 figures side by side (never verdicts)."""

from __future__ import annotations

from html import escape

from conformance.report._compare import Matrix
from conformance.wire._latency import FIGURES, figure_text
from conformance.wire._visible import markdown_text


def _samples(matrix: Matrix) -> list[str]:
    return [str(c.latency.get("streamed_exchanges", 0) or 0) for c in matrix.columns]


def latency_html(matrix: Matrix) -> str:
    """A table (figures by runs), or "" when no run has figures."""
    if not any(c.latency.get("streamed_exchanges") for c in matrix.columns):
        return ""
    heads = "".join(f"<th>{escape(c.label)}</th>" for c in matrix.columns)
    rows = "".join(
        f"<tr><td>{escape(label)}</td>"
        + "".join(
            f"<td>{escape(figure_text(c.latency.get(key), unit))}</td>" for c in matrix.columns
        )
        + "</tr>"
        for key, label, unit in FIGURES
    )
    rows += (
        "<tr><td>streamed probes measured</td>"
        + "".join(f"<td>{n}</td>" for n in _samples(matrix))
        + "</tr>"
    )
    return (
        f'<h2>Latency</h2><table id="latency"><thead><tr><th>figure</th>{heads}</tr></thead>'
        f"<tbody>{rows}</tbody></table>"
        '<p class="muted">p50 / p95 over each run\'s streamed probes: figures, not verdicts '
        "(one run's few probes, measured from this machine).</p>"
    )


def latency_markdown(matrix: Matrix) -> list[str]:
    """The same table in Markdown lines, or [] when no run has figures."""
    if not any(c.latency.get("streamed_exchanges") for c in matrix.columns):
        return []
    names = [markdown_text(c.label) for c in matrix.columns]
    out = ["### Latency (p50 / p95 over streamed probes; figures, not verdicts)", ""]
    out.append("| figure | " + " | ".join(names) + " |")
    out.append("| --- |" + " --- |" * len(names))
    for key, label, unit in FIGURES:
        values = [figure_text(c.latency.get(key), unit) for c in matrix.columns]
        out.append(f"| {label} | " + " | ".join(values) + " |")
    out.append("| streamed probes measured | " + " | ".join(_samples(matrix)) + " |")
    return ["", *out]
