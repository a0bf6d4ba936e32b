"""The history page as a person sees it in Chromium: seven runs of one day, told apart by
their time; charts with labelled axes whose labels never overlap."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import run_cli
from tests.report._data import check, results
from tests.report.conftest import keep_screenshot, visit

pytestmark = pytest.mark.e2e
PNG = b"\x89PNG\r\n\x1a\n"


def history_page(runs, tmp_path):
    """history.html over seven runs of 2026-12-06 (the last one broke a check), written by
    the command a user runs."""
    root = tmp_path / "history-runs"
    for n in range(7):
        day = root / f"run-{n + 1}"
        day.mkdir(parents=True)
        data = results(
            check("usage_arithmetic", "PASS"),
            check("stream_usage_chunk", "FAIL" if n == 6 else "PASS"),
            started_at=f"2026-12-06T{n + 2:02d}:{5 * n:02d}:00+00:00",
            latency={
                "streamed_exchanges": 3,
                "headers_s": {"p50": 0.05 * (n + 1), "p95": 0.4, "min": 0.01, "max": 0.5, "n": 3},
                "first_token_s": None,
                "chunk_gap_s": None,
                "output_tokens_per_s": None,
            },
        )
        (day / "results.json").write_text(json.dumps(data))
        (day / "report.html").write_text("<html></html>")
    out = tmp_path / "history.html"
    made = run_cli("history", str(root), "-o", str(out))
    assert made.returncode in (0, 1), made.stderr
    return out


def overlapping(boxes):
    return [
        (a, b)
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]
    ]  # fmt: skip


def test_history_columns_carry_the_time_and_chart_labels_do_not_overlap(browser, tmp_path):
    page_path = history_page(None, tmp_path)
    with visit(browser, page_path) as seen:
        page = seen.page
        heads = page.locator("table.grid thead th").all_inner_texts()[1:]
        assert heads == [f"2026-12-06\n{n + 2:02d}:{5 * n:02d}:00" for n in reversed(range(7))]
        chart = page.locator('svg[aria-label="time to response headers, p50"]')
        ys = chart.locator("text.y").all_text_contents()
        assert ys == ["0", "100", "200", "300", "400"]  # round values, not only 0 and max
        xs = chart.locator("text.x").all_text_contents()
        assert (xs[0], xs[-1]) == ("12-06 02:00", "12-06 08:30")
        assert len(xs) >= 4  # labels between the first and the last
        assert chart.locator("text.axis").all_text_contents() == [
            "ms", "run started (UTC, oldest left)",
        ]  # fmt: skip
        for svg in page.locator("svg").all():
            boxes = [t.bounding_box() for t in svg.locator("text").all()]
            assert overlapping(boxes) == []
        shot = tmp_path / "history.png"
        page.screenshot(path=str(shot))
        assert shot.read_bytes().startswith(PNG)
        keep_screenshot(shot)
        assert seen.console_errors == []
