"""The history page: verdict changes over many runs, newest first, regressions on top."""

from __future__ import annotations

import json
import re

from conformance.report._history import load_history
from conformance.report._history_render import render_history
from tests.e2e.conftest import run_cli
from tests.report._data import check, results


def write_runs(tmp_path, verdicts, *, check_id="stream_usage_chunk"):
    """One run directory per verdict of ``check_id`` (day n+1 of November), with a
    report.html beside each results.json, and latency figures growing day by day."""
    for n, verdict in enumerate(verdicts):
        day = tmp_path / "runs" / f"run-{n + 1:02d}"
        day.mkdir(parents=True)
        data = results(
            check("usage_arithmetic", "PASS"),
            check(check_id, verdict),
            started_at=f"2026-11-{n + 15:02d}T06:00:00+00:00",
            latency={
                "streamed_exchanges": 3,
                "headers_s": {"p50": 0.1 * (n + 1), "p95": 0.2, "min": 0.1, "max": 0.2, "n": 3},
                "first_token_s": None,
                "chunk_gap_s": None,
                "output_tokens_per_s": None,
            },
        )
        (day / "results.json").write_text(json.dumps(data))
        (day / "report.html").write_text("<html></html>")
    return tmp_path / "runs"


def test_ten_runs_where_a_check_breaks_at_the_sixth_name_that_run_first(tmp_path):
    runs = write_runs(tmp_path, ["PASS"] * 5 + ["FAIL"] * 5)
    page = tmp_path / "out" / "history.html"
    history = load_history([runs], page)
    (series,) = history.series
    assert [c.check for c in series.changes] == ["stream_usage_chunk"]
    (change,) = series.standing()
    assert (change.before, change.after, change.run.started_at) == (
        "PASS",
        "FAIL",
        "2026-11-20T06:00:00+00:00",
    )
    assert change.run.link == "../runs/run-06/report.html"  # relative to the page
    html = render_history(history)
    top = html.index('id="regressions"')
    first_item = re.search(r"<li[^>]*>(.*?)</li>", html[top:]).group(1)
    assert re.sub("<[^>]+>", "", first_item) == (
        "stream_usage_chunk broke on the run of 2026-11-20 06:00:00: PASS → FAIL "
        "(previous run: 2026-11-19 06:00:00)"
    )
    assert '<a href="../runs/run-06/report.html">' in first_item
    assert html.index('id="regressions"') < html.index("<svg")  # the first screen: news


def test_changes_are_listed_newest_first_and_errors_are_not_changes(tmp_path):
    runs = write_runs(tmp_path, ["PASS", "FAIL", "ERROR", "FAIL", "PASS", "WARN"])
    history = load_history([runs], tmp_path / "history.html")
    (series,) = history.series
    assert [(c.before, c.after, c.run.path.parent.name) for c in series.changes] == [
        ("PASS", "WARN", "run-06"),
        ("FAIL", "PASS", "run-05"),
        ("PASS", "FAIL", "run-02"),  # FAIL -> ERROR -> FAIL: nothing learnt, no change
    ]
    assert [c.after for c in series.standing()] == ["WARN"]


def test_a_fixed_check_is_no_standing_regression(tmp_path):
    runs = write_runs(tmp_path, ["PASS", "FAIL", "PASS"])
    history = load_history([runs], tmp_path / "history.html")
    assert history.series[0].standing() == []
    html = render_history(history)
    assert "No check is worse in the newest run" in html
    assert 'class="fix">recovered</span>' in html


def test_latency_trends_are_inline_svg_charts_oldest_run_left(tmp_path):
    runs = write_runs(tmp_path, ["PASS"] * 3)
    html = render_history(load_history([runs], tmp_path / "history.html"))
    chart = html[html.index('<svg role="img" aria-label="time to response headers, p50"') :]
    chart = chart[: chart.index("</svg>")]
    titles = re.findall(r"<circle[^>]*><title>([^<]*)</title>", chart)
    assert titles == [
        "2026-11-15 06:00:00: 100 ms",
        "2026-11-16 06:00:00: 200 ms",
        "2026-11-17 06:00:00: 300 ms",
    ]
    assert "<script" not in html


def test_the_command_writes_the_page_and_names_the_regression(tmp_path):
    runs = write_runs(tmp_path, ["PASS"] * 5 + ["FAIL"] * 5)
    out = tmp_path / "history.html"
    done = run_cli("history", str(runs), "-o", str(out))
    assert done.returncode == 1, done.stderr  # a regression stands: a scheduled job fails
    assert done.stdout.splitlines() == [
        f"conformance: history of 10 runs (1 endpoint): {out}",
        "conformance: regression: stream_usage_chunk broke on the run of "
        f"2026-11-20T06:00:00+00:00 (PASS -> FAIL): {runs / 'run-06' / 'results.json'}",
    ]
    assert out.is_file()


def test_history_exits_0_once_the_regression_is_fixed(tmp_path):
    runs = write_runs(tmp_path, ["PASS", "FAIL", "PASS"])
    done = run_cli("history", str(runs), "-o", str(tmp_path / "h.html"))
    assert done.returncode == 0, done.stderr


def test_history_as_json_and_markdown_for_bots_and_pull_requests(tmp_path):
    runs = write_runs(tmp_path, ["PASS", "PASS", "FAIL"])
    as_json = run_cli("history", str(runs), "--format", "json")
    assert as_json.returncode == 1, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert (doc["format"], doc["version"], doc["standing"]) == ("conformance-history", 1, 1)
    (series,) = doc["series"]
    assert series["standing"] == [
        {
            "check": "stream_usage_chunk",
            "before": "PASS",
            "after": "FAIL",
            "run": str(runs / "run-03" / "results.json"),
            "started_at": "2026-11-17T06:00:00+00:00",
            "previous": str(runs / "run-02" / "results.json"),
            "regression": True,
        }
    ]
    assert [r["started_at"][:10] for r in series["runs"]] == [
        "2026-11-17",
        "2026-11-16",
        "2026-11-15",
    ]
    out = tmp_path / "history.md"
    as_md = run_cli("history", str(runs), "-o", str(out))  # .md: markdown
    assert as_md.returncode == 1
    text = out.read_text()
    assert text.startswith("## Conformance history: 3 runs, 1 regressions standing\n")
    broke = runs / "run-03" / "results.json"
    assert (
        f"| `stream_usage_chunk` | 2026-11-17T06:00:00+00:00 (`{broke}`) | PASS -> FAIL |"
    ) in text.splitlines()


def test_a_directory_without_results_is_refused_with_the_fix(tmp_path):
    done = run_cli("history", str(tmp_path), "-o", str(tmp_path / "h.html"))
    assert done.returncode == 2
    assert done.stderr == (
        f"conformance: error: history {str(tmp_path)!r} holds no results.json; pass the "
        "directories where `conformance run` wrote its reports (or the results.json files).\n"
    )
