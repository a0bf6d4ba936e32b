"""Latency figures as the report card and the comparison show them: figures, never verdicts."""

from __future__ import annotations

import re

from conformance.report._compare import build_matrix
from conformance.report._compare_render import render_html, render_markdown
from conformance.report._html_card import header_card
from tests.report._data import check, results


def stat(p50, p95):
    return {"p50": p50, "p95": p95, "min": p50, "max": p95, "n": 4}


LATENCY = {
    "streamed_exchanges": 4,
    "headers_s": stat(0.3012, 0.3301),
    "first_token_s": stat(0.352, 0.41),
    "chunk_gap_s": stat(0.0504, 0.0551),
    "output_tokens_per_s": stat(19.6, 19.9),
}


def test_the_card_shows_p50_and_p95_of_each_figure():
    card = header_card(results(check("a"), latency=LATENCY))
    line = re.search(r'<span id="cf-latency">(.*?)</span>', card).group(1)
    assert line == (
        "time to response headers: p50 301 ms, p95 330 ms; "
        "time to first content token: p50 352 ms, p95 410 ms; "
        "gap between stream chunks: p50 50 ms, p95 55 ms; "
        "output tokens per second: p50 19.6 tok/s, p95 19.9 tok/s (over 4 streamed probes)"
    )


def test_the_comparison_puts_the_figures_side_by_side_and_judges_none():
    runs = [
        ("fast/results.json", results(check("a"), latency=LATENCY)),
        ("none/results.json", results(check("a"))),
    ]
    matrix = build_matrix(runs)
    page = render_html(matrix)
    table = page[page.index('<table id="latency">') :]
    table = table[: table.index("</table>")]
    cells = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", table)
    assert cells[0] == ("time to response headers", "p50 301 ms, p95 330 ms", "-")
    assert cells[-1] == ("streamed probes measured", "4", "0")
    assert "1 of" not in page[: page.index("<table")]  # figures never make a row differ
    markdown = render_markdown(matrix)
    assert "| time to response headers | p50 301 ms, p95 330 ms | - |" in markdown


def test_the_card_draws_a_histogram_of_first_token_times_and_chunk_gaps():
    latency = {
        **LATENCY,
        "chunk_gap_s": {**stat(0.0504, 0.0551), "histogram": [[50, 4], [100, 2], [None, 1]]},
    }
    card = header_card(results(check("a"), latency=latency))
    table = re.search(r'<table class="cf-hist" id="cf-hist-chunk_gap_s">(.*?)</table>', card)
    cells = re.findall(
        r"<tr><td>([^<]*)</td><td><span[^>]*width:(\d+)px[^>]*></span> (\d+)", table.group(1)
    )
    assert cells == [("≤ 50 ms", "120", "4"), ("≤ 100 ms", "60", "2"), ("slower", "30", "1")]
    assert 'id="cf-hist-first_token_s"' not in card  # no histogram recorded: none drawn
