"""The report and the comparison page as a person sees them: real headless Chromium.

One browser for the module; each test opens its page in a fresh context and checks what
is rendered, that nothing was fetched from anywhere, and that the console stayed quiet.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler

import pytest

from conformance.run._scores import VERDICTS, area_scores
from tests.e2e.conftest import run_cli
from tests.live.helpers import handled_by
from tests.report.conftest import keep_screenshot, run_against, visit

pytestmark = pytest.mark.e2e
PNG = b"\x89PNG\r\n\x1a\n"


def card_fields(page):
    keys = page.locator("#cf-header dt").all_inner_texts()
    values = page.locator("#cf-header dd").all_inner_texts()
    return dict(zip(keys, values, strict=True))


def score_row(page, area):
    return page.locator(f"#cf-header .cf-scores tr:has(a[href='#cf-area-{area}']) td")


def test_the_report_shows_the_header_card_first_and_the_failing_row(runs, browser, tmp_path):
    data = json.loads((runs.defective / "results.json").read_text())
    report = runs.defective / "report.html"
    with visit(browser, report) as seen:
        page = seen.page
        card = page.locator("#cf-header")
        assert card.bounding_box()["y"] < 40  # the very top of the page
        assert page.locator("#cf-header h2").inner_text() == (
            f"Conformance: {data['endpoint']['base_url']}"
        )
        totals = data["totals"]
        counts = ", ".join(f"{totals[v]} {v}" for v in VERDICTS if totals.get(v))
        tokens = data["tokens"]
        fields = card_fields(page)
        assert fields["verdict"] == f"nonconformant ({counts}); exit code 1"
        assert fields["endpoint"] == data["endpoint"]["base_url"]
        assert fields["model"] == "conformance/reference-1"
        assert fields["profile"] == "openai"  # the default (README)
        assert fields["tool"] == f"conformance {data['tool']['version']}"
        assert fields["requests"] == str(data["requests"])
        assert fields["tokens"].startswith(
            f"{tokens['total']} ({tokens['prompt']} prompt, {tokens['completion']} completion)"
        )
        assert fields["duration"] == f"{data['duration_s']:.1f} s"
        assert fields["CI gate"] == "fails on FAIL"
        usage = next(s for s in area_scores(data["checks"]) if s.area == "usage")
        assert usage.counts["FAIL"] == 1
        assert score_row(page, "usage").all_inner_texts() == [
            "usage",
            usage.label(),
            *(str(usage.counts[v]) for v in ("PASS", "WARN", "FAIL", "SKIP", "ERROR")),
            f"{data['areas']['usage']['requests']} requests, "
            f"{data['areas']['usage']['tokens']} tokens",
        ]
        failing = [c["id"] for c in data["checks"] if c["verdict"] == "FAIL"]
        assert fields["FAIL"] == ", ".join(failing)
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot))
        assert shot.read_bytes().startswith(PNG)
        keep_screenshot(shot)
        page.locator("#cf-header a[href='#cf-area-usage']").click()
        assert page.evaluate("location.hash") == "#cf-area-usage"

        row = page.locator("#cf-check-usage_arithmetic")
        assert row.locator("td").first.inner_text() == "FAIL"
        assert row.locator(".cf-check > p").first.inner_text() == (
            "FAIL usage_arithmetic: Usage adds up: total_tokens = prompt_tokens + "
            "completion_tokens (MUST, usage) - spec #/components/schemas/Usage"
        )
        findings = row.locator("tr.cf-finding")
        judged = data["checks"][[c["id"] for c in data["checks"]].index("usage_arithmetic")]
        # one defect, one finding: every answer's usage is judged, the probes are listed
        assert findings.count() == len(judged["findings"]) == 1
        assert len(judged["findings"][0]["probes"]) > 2
        first = findings.first.locator("td").all_inner_texts()
        # The finding's title, then which tested clients it breaks (the client replay's).
        title, _, clients = first[0].partition("\n")
        assert [title, *first[1:3]] == [
            "usage.total_tokens is not prompt_tokens + completion_tokens (seen 25 times) "
            "(in 4 of 4 trials)",
            "$.usage.total_tokens",
            "#/components/schemas/Usage/properties/total_tokens",
        ]
        impact = judged["findings"][0]["impact"]["summary"]
        assert clients == f"clients: {impact}"
        assert int(first[4]) == int(first[3]) + 1  # actual is expected + 1
        assert first[5] == ", ".join(judged["findings"][0]["probes"])
        assert seen.console_errors == []
    assert set(seen.requests) == {report.as_uri()}


def test_the_report_reads_without_javascript(runs, browser):
    data = json.loads((runs.defective / "results.json").read_text())
    with visit(browser, runs.defective / "report.html", javascript=False) as seen:
        page = seen.page
        assert page.locator("#cf-verdict").inner_text() == "nonconformant"
        assert page.locator("tr.cf-row").count() == len(data["checks"])
        assert page.locator("tr.cf-row-FAIL").count() == data["totals"]["FAIL"]
        row = page.locator("#cf-check-usage_arithmetic")
        [finding] = data["checks"][[c["id"] for c in data["checks"]].index("usage_arithmetic")][
            "findings"
        ]
        evidence = row.locator("details", has_text=finding["exchange"]).first
        body = evidence.locator("pre").first
        assert not body.is_visible()
        evidence.locator("summary").first.click()  # <details> opens without JavaScript
        assert body.is_visible()
        assert "Authorization: Bearer $CONFORMANCE_API_KEY" in evidence.inner_text()
        assert seen.console_errors == []


def test_printing_opens_every_piece_of_evidence(runs, browser):
    with visit(browser, runs.defective / "report.html", media="print") as seen:
        page = seen.page
        exchange = page.locator("#cf-exchange-chat pre").first
        assert exchange.is_visible()  # inside a closed <details>, shown for print
        assert not page.locator("#results-table").is_visible()  # the JS table: not printed
        assert page.locator("#cf-header").is_visible()


def test_the_comparison_puts_the_difference_at_the_top(runs, browser, tmp_path):
    clean = {c["id"]: c["verdict"] for c in load(runs.clean)["checks"]}
    defective = {c["id"]: c["verdict"] for c in load(runs.defective)["checks"]}
    differ = {i for i in clean if clean[i] != defective.get(i)}
    assert "usage_arithmetic" in differ
    with visit(browser, runs.compare_html) as seen:
        page = seen.page
        assert page.locator("h1").inner_text() == "Conformance comparison: clean vs defective"
        summary = page.locator("#summary").inner_text()
        assert summary.startswith(
            f"{len(differ)} of {len(clean)} checks differ between the endpoints: "
        )
        assert "usage_arithmetic (PASS / FAIL)" in summary
        assert summary.endswith("; rows that differ come first.")
        rows = page.locator("#matrix tbody tr")
        ids = [rows.nth(i).get_attribute("id") for i in range(rows.count())]
        checks = [i for i in ids if i and i.startswith("cf-check-")]
        assert {i.removeprefix("cf-check-") for i in checks[: len(differ)]} == differ
        assert rows.nth(0).inner_text().endswith(": where the endpoints differ")
        assert page.locator("#matrix tr.differs").count() == len(differ)
        first = page.locator("#cf-check-usage_arithmetic")
        assert first.locator("td").all_inner_texts() == [
            "usage_arithmetic differs\nUsage adds up: total_tokens = prompt_tokens + "
            "completion_tokens (MUST)",
            "✓ PASS",
            "✗ FAIL\nfindings",
        ]
        assert first.locator("td a").nth(1).get_attribute("href") == (
            "defective/report.html#cf-check-usage_arithmetic"
        )  # every cell leads to that run's report
        assert first.bounding_box()["y"] < 400  # in the first screenful
        note = first.locator("td.c-fail .note")
        assert not note.is_visible()
        first.locator("td.c-fail summary").click()
        assert note.inner_text().startswith(
            "usage.total_tokens is not prompt_tokens + completion_tokens (seen "
        )
        assert " (in 4 of 4 trials) at $.usage.total_tokens (chat): expected " in (
            note.inner_text()
        )
        shot = tmp_path / "compare.png"
        page.screenshot(path=str(shot))
        assert shot.read_bytes().startswith(PNG)
        keep_screenshot(shot)
        assert seen.console_errors == []
    assert set(seen.requests) == {runs.compare_html.as_uri()}


def load(report_dir):
    return json.loads((report_dir / "results.json").read_text())


PAYLOAD = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">\x1b[2J'


class Scripting(BaseHTTPRequestHandler):
    """Every request: 500 whose error message is a script payload (and a terminal escape)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps({"error": {"message": PAYLOAD}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_script_payload_from_the_endpoint_runs_in_neither_report_nor_comparison(
    runs, browser, tmp_path
):
    with handled_by(Scripting) as url:
        ran = run_against(url, tmp_path / "h")
    assert ran.returncode == 1, ran.stderr[-2000:]
    compare = tmp_path / "compare.html"
    made = run_cli(
        "compare", str(runs.clean / "results.json"), str(tmp_path / "h" / "results.json"),
        "-o", str(compare),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    for page_path in (tmp_path / "h" / "report.html", compare):
        with visit(browser, page_path) as seen:
            page = seen.page
            for details in page.locator("details").all():
                details.evaluate("d => { d.open = true; }")
            assert page.evaluate("window.pwned") is None, page_path
            assert "<script>window.pwned = 1</script>" in page.locator("body").inner_text()
            assert seen.console_errors == []
        assert set(seen.requests) == {page_path.as_uri()}  # the <img> was never loaded


# What pytest and pytest-html would show a user; none of it may appear on any page.
PYTEST_WORDS = (
    "pytest", "Passed", "Failed", "Skipped", "Errors", "Expected failures", "Unexpected passes",
    "Rerun", "tests took", "Environment", "pluggy", "test_check", "suite.py", "No log output",
    "Inconclusive:", "CheckResult(",
)  # fmt: skip


def test_no_page_speaks_pytest_and_the_report_filters_by_our_verdicts(runs, browser, tmp_path):
    from tests.report.test_history_browser import history_page

    history = history_page(runs, tmp_path)
    for page_path in (runs.clean / "report.html", runs.defective / "report.html",
                      runs.compare_html, history):  # fmt: skip
        with visit(browser, page_path) as seen:
            text = seen.page.locator("body").inner_text()
            text = re.sub(r"\S*/pytest-of-\S*", "", text)  # this test's own temporary paths
            for word in PYTEST_WORDS:
                assert word not in text, (page_path.name, word)
            assert seen.console_errors == []
    data = load(runs.defective)
    with visit(browser, runs.defective / "report.html") as seen:
        page = seen.page
        totals = data["totals"]
        assert " ".join(page.locator("#cf-filter").inner_text().split()) == "Show: " + " ".join(
            f"{totals[v]} {v}" for v in ("PASS", "WARN", "FAIL", "SKIP", "ERROR")
        )
        assert page.locator("#results-table thead th").all_inner_texts() == [
            "Verdict", "Area", "Severity", "Check", "Duration",
        ]  # fmt: skip
        assert page.locator("tr.cf-row-PASS").first.is_visible()
        page.locator("#cf-show-PASS").uncheck()
        assert not page.locator("tr.cf-row-PASS").first.is_visible()
        assert page.locator("tr.cf-row-FAIL").first.is_visible()


def test_the_comparison_sets_inconclusive_apart_and_says_why_a_column_did_not_run(
    runs, browser, tmp_path
):
    """Three columns: clean, defective, and a pair the matrix could not run (its key
    variable unset): the one real difference on top, the page says why the third is empty."""
    stub = load(runs.clean)
    stub.update(
        checks=[],
        exchanges=[],
        notes=["not run: the environment variable C_KEY is not set"],
        verdict="inconclusive",
        totals=dict.fromkeys(stub["totals"], 0),
    )
    (tmp_path / "unset").mkdir()
    (tmp_path / "unset" / "results.json").write_text(json.dumps(stub))
    page_path = tmp_path / "compare.html"
    made = run_cli(
        "compare", str(runs.clean / "results.json"), str(runs.defective / "results.json"),
        str(tmp_path / "unset" / "results.json"), "-o", str(page_path),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    with visit(browser, page_path) as seen:
        page = seen.page
        rows = page.locator("#endpoint-summary tbody tr")
        assert rows.nth(2).locator("td").last.inner_text() == (
            "not run: the environment variable C_KEY is not set"
        )
        assert rows.nth(1).locator("td").nth(0).inner_text() == "nonconformant"
        # usage_arithmetic, and client_reads_exchange: the AI SDK adds up total_tokens itself
        # on answers no usage check judges
        assert page.locator("#matrix tr.differs").count() == 2
        assert page.locator("#cf-check-client_reads_exchange").get_attribute("class") == "differs"
        assert page.locator("#cf-check-usage_arithmetic").get_attribute("class") == "differs"
        shot = tmp_path / "compare-three.png"
        page.screenshot(path=str(shot))
        keep_screenshot(shot)
        assert seen.console_errors == []
