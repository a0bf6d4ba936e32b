"""``compare`` and ``history`` for bots and pull requests: JSON and Markdown.

From the same data the HTML pages render (``_compare.Matrix``, ``_history.History``), so a
bot reads what a person sees. The JSON documents carry ``format`` and ``version``; fields
are added, never renamed, within a version.
"""

from __future__ import annotations

import json
from typing import Any

from conformance.report._ci import code, md
from conformance.report._compare import STATUSES, Matrix
from conformance.report._history import Change, History

VERSION = 1


def compare_json(matrix: Matrix) -> str:
    """The comparison as JSON: columns (runs), rows (checks, differing first), scores."""
    doc = {
        "format": "conformance-compare",
        "version": VERSION,
        "notes": matrix.notes,
        "columns": [
            {
                "label": c.label,
                "path": c.path,
                "base_url": c.base_url,
                "model": c.model,
                "profile": c.profile,
                "started_at": c.started_at,
                "verdict": c.verdict,
                "totals": c.totals,
                "outcome": c.outcome,
            }
            for c in matrix.columns
        ],
        "rows": [
            {
                "check": row.check_id,
                "title": row.title,
                "area": row.area,
                "severity": row.severity,
                "differs": row.differs,
                "cells": [
                    {
                        "status": cell.status,
                        "label": STATUSES[cell.status],
                        "verdict": cell.verdict,
                        "note": cell.note,
                    }
                    for cell in row.cells
                ],
            }
            for row in matrix.rows
        ],
        "scores": {area: [s.score for s in scores] for area, scores in matrix.scores.items()},
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _change(change: Change) -> dict[str, Any]:
    return {
        "check": change.check,
        "before": change.before,
        "after": change.after,
        "run": str(change.run.path),
        "started_at": change.run.started_at,
        "previous": str(change.previous.path),
        "regression": change.regression,
    }


def history_json(history: History) -> str:
    """The history as JSON: per endpoint and model, the standing regressions, every change
    (newest first) and the runs."""
    doc = {
        "format": "conformance-history",
        "version": VERSION,
        "standing": sum(len(s.standing()) for s in history.series),
        "series": [
            {
                "base_url": s.base_url,
                "model": s.model,
                "standing": [_change(c) for c in s.standing()],
                "changes": [_change(c) for c in s.changes],
                "runs": [
                    {
                        "path": str(r.path),
                        "started_at": r.started_at,
                        "verdict": r.data.get("verdict"),
                        "totals": r.data.get("totals"),
                    }
                    for r in reversed(s.runs)
                ],
            }
            for s in history.series
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def history_markdown(history: History) -> str:
    """The history for a pull request or an issue: standing regressions first."""
    standing = [c for s in history.series for c in s.standing()]
    runs = sum(len(s.runs) for s in history.series)
    out = [f"## Conformance history: {runs} runs, {len(standing)} regressions standing", ""]
    for series in history.series:
        out += [f"### {md(series.label)}", ""]
        mine = series.standing()
        if mine:
            out += ["| regression | broke on the run of | before -> now |", "| --- | --- | --- |"]
            out += [
                f"| {code(c.check)} | {md(c.run.started_at)} ({code(c.run.path)}) | "
                f"{c.before} -> {c.after} |"
                for c in mine
            ]
        else:
            out.append("No regression standing.")
        if series.changes:
            out += ["", "Changes, newest first:", ""]
            out += [
                f"- {md(c.run.started_at)}: {code(c.check)} {c.before} -> {c.after}"
                + (" (regression)" if c.regression else " (fixed)" if c.fix else "")
                for c in series.changes[:50]
            ]
        newest = series.runs[-1]
        out += [
            "",
            f"Newest run: {md(newest.started_at)}, {md(newest.data.get('verdict', ''))} "
            f"({code(newest.path)}).",
            "",
        ]
    return "\n".join(out)
