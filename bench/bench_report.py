"""Rendering cost: the report's static HTML and the comparison page for a large run.

python3 -m bench.bench_report
"""

from __future__ import annotations

import json
import time
from typing import Any

from bench._common import chunk
from conformance.report._compare import build_matrix
from conformance.report._compare_render import render_html, render_markdown
from conformance.report._html import report_body
from conformance.report._html_card import header_card
from conformance.run._baseline import Gate
from tests.report._data import check, finding, results

CHECKS = 200
EXCHANGES = 60
EVENTS = 1_000  # per streamed exchange; the client keeps 64 KiB of body, so this is generous


def exchange(index: int) -> dict[str, Any]:
    events = [
        {"index": i, "event": "", "id": "", "data": json.dumps(chunk(i))} for i in range(EVENTS)
    ]
    return {
        "id": f"probe_{index}",
        "request": {
            "method": "POST",
            "url": "https://api.example.com/v1/chat/completions",
            "headers": {"authorization": "Bearer [redacted]"},
            "body": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        },
        "response": {
            "status": 200,
            "headers": {"content-type": "text/event-stream"},
            "body": "",
            "body_truncated": False,
            "streamed": True,
            "events": events,
        },
        "framing_problems": [],
        "error": None,
        "elapsed_s": 0.1,
    }


def run_data(failing_every: int) -> dict[str, Any]:
    checks = []
    for i in range(CHECKS):
        probe = f"probe_{i % EXCHANGES}"
        failing = i % failing_every == 0
        found = {**finding("x is wrong", "$.choices[0].delta", probe, chunk_index=500), "count": 3}
        checks.append(
            {
                **check(
                    f"check_{i}",
                    "FAIL" if failing else "PASS",
                    area=f"area_{i % 12}",
                    findings=[{**found, "check_id": f"check_{i}"}] if failing else [],
                ),
                "probes": [probe],
                "exchanges": [probe],
            }
        )
    return results(
        *checks,
        model="m",
        duration_s=1.0,
        requests=EXCHANGES,
        tokens={"prompt": 0, "completion": 0, "total": 0, "unreported_exchanges": 0},
        exchanges=[exchange(i) for i in range(EXCHANGES)],
    )


def main() -> None:
    data = Gate().apply(run_data(failing_every=10))
    started = time.perf_counter()
    page = header_card(data) + report_body(data)
    report = time.perf_counter() - started
    print(
        f"report: {CHECKS} checks, {EXCHANGES} streamed exchanges x {EVENTS} events: "
        f"{report * 1000:.0f} ms, {len(page) / 1e6:.1f} MB of HTML"
    )
    runs = [(f"r{i}/results.json", run_data(failing_every=7 + i)) for i in range(5)]
    started = time.perf_counter()
    matrix = build_matrix(runs)
    html = render_html(matrix)
    markdown = render_markdown(matrix)
    compare = time.perf_counter() - started
    differ = sum(1 for row in matrix.rows if row.differs)
    print(
        f"compare: 5 runs x {CHECKS} checks ({differ} rows differ): {compare * 1000:.0f} ms, "
        f"{len(html) / 1e3:.0f} kB HTML, {len(markdown) / 1e3:.0f} kB Markdown"
    )


if __name__ == "__main__":
    main()
