"""The comparison matrix, its Markdown, and reading results.json files back."""

from __future__ import annotations

import json
import re

import pytest

from conformance._errors import ConfigError
from conformance.report._compare import build_matrix, cell_of, labels
from conformance.report._compare_render import render_html, render_markdown
from conformance.run._load import read_results
from tests.report._data import check, finding, results

TOTAL = finding("total is wrong", "$.usage.total_tokens", "chat", 14, 15)


def two_runs():
    a = results(
        check("success_status", area="http"),
        check("usage_arithmetic"),
        check("tools_called", area="tools"),
        check("logprobs_shape", area="logprobs", reason="chat: fine"),
    )
    b = results(
        check("success_status", area="http"),
        check("usage_arithmetic", "FAIL", findings=[TOTAL]),
        check("tools_called", "SKIP", area="tools", unsupported=True, reason="400: no tools"),
        check("logprobs_shape", "ERROR", area="logprobs", reason="timeout"),
        check("extra_check", "WARN", area="http", severity="SHOULD", findings=[finding()]),
        endpoint={"base_url": "https://other.example.org/v1", "embedded": False},
        model="m-2",
    )
    return [("reports/a/results.json", a), ("reports/b/results.json", b)]


def test_each_outcome_is_its_own_cell_state():
    assert cell_of(None).status == "not-run"
    assert cell_of(check("c")).status == "pass"
    assert cell_of(check("c", "WARN")).status == "warn"
    assert cell_of(check("c", "FAIL")).status == "fail"
    assert cell_of(check("c", "SKIP", unsupported=True)).status == "unsupported"
    assert cell_of(check("c", "SKIP", reason="no key")).status == "skip"
    assert cell_of(check("c", "ERROR")).status == "inconclusive"
    assert cell_of(check("c", "FAIL", findings=[TOTAL])).note == (
        "total is wrong at $.usage.total_tokens (chat): expected 14, actual 15"
    )
    assert cell_of(check("c", reason="bookkeeping")).note == ""  # a PASS has nothing to show


def test_rows_that_differ_come_first_grouped_by_area():
    matrix = build_matrix(two_runs())
    assert [c.label for c in matrix.columns] == ["a", "b"]
    # real differences first; those only through an inconclusive or missing column apart
    assert [(r.check_id, r.differs, r.uncertain) for r in matrix.rows] == [
        ("usage_arithmetic", True, False),
        ("tools_called", True, False),
        ("extra_check", False, True),
        ("logprobs_shape", False, True),
        ("success_status", False, False),
    ]
    assert [[c.status for c in r.cells] for r in matrix.rows] == [
        ["pass", "fail"],
        ["pass", "unsupported"],
        ["not-run", "warn"],
        ["pass", "inconclusive"],
        ["pass", "pass"],
    ]
    assert matrix.areas == ["http", "usage", "tools", "logprobs"]
    assert [s.label() for s in matrix.scores["http"]] == ["100% (1 of 1)", "50% (1 of 2)"]
    assert [s.label() for s in matrix.scores["logprobs"]] == [
        "100% (1 of 1)",
        "inconclusive (1 ERROR)",
    ]
    assert matrix.notes == []


def test_labels_are_the_report_directories_or_else_host_and_model():
    runs = two_runs()
    assert labels(runs) == ["a", "b"]
    same_dir = [("x/reports/results.json", runs[0][1]), ("y/reports/results.json", runs[1][1])]
    assert labels(same_dir) == ["api.example.com m-1", "other.example.org m-2"]
    twins = [("reports/results.json", runs[0][1]), ("results.json", runs[0][1])]
    assert labels(twins) == ["1: api.example.com m-1", "2: api.example.com m-1"]


def test_runs_against_different_documents_carry_a_caveat():
    a, b = two_runs()
    b[1]["spec"] = {**b[1]["spec"], "sha256": "b" * 64}
    b[1]["profile"] = "openai"
    assert build_matrix([a, b]).notes == [
        "the runs were checked against different OpenAPI documents (spec sha256 differs); "
        "a difference may come from the document, not the endpoint",
        "the runs used different profiles (strict / openai); openai relaxes the document "
        "where schemas/ERRATA.md says so",
    ]


def test_markdown_is_a_table_with_numbered_findings():
    text = render_markdown(build_matrix(two_runs()))
    assert text.splitlines()[:9] == [
        "## Conformance comparison: a vs b",
        "",
        "**2 of 5 checks differ**; 2 more differ only where a run was inconclusive or did not "
        "run; rows that differ come first.",
        "",
        "| area | check | a | b |",
        "| --- | --- | --- | --- |",
        "| usage | `usage_arithmetic` **differs** | ✅ PASS | ❌ FAIL [1] |",
        "| tools | `tools_called` **differs** | ✅ PASS | 🚫 unsupported [2] |",
        "| http | `extra_check` *inconclusive* | · not run | ⚠️ WARN [3] |",
    ]
    assert "3. b / `extra_check`: x is wrong at $.x (chat): expected 1, actual 2" in text
    assert (
        "1. b / `usage_arithmetic`: total is wrong at $.usage.total\\_tokens (chat): "
        "expected 14, actual 15"
    ) in text
    assert text.endswith(
        "Endpoints: a = https://api.example.com/v1 (m-1, strict); "
        "b = https://other.example.org/v1 (m-2, strict)\n"
    )


def test_markdown_cells_cannot_break_the_table():
    bad = finding("a | b\nc", "$.x")
    runs = [
        ("a/results.json", results(check("c"))),
        ("b/results.json", results(check("c", "FAIL", findings=[bad]))),
    ]
    text = render_markdown(build_matrix(runs))
    assert "1. b / `c`: a \\| b" in text  # below the table, the pipe taken literally
    row = next(line for line in text.splitlines() if line.startswith("| usage |"))
    assert row.count(" | ") == 3


def test_markdown_takes_what_endpoints_sent_literally():
    hostile = finding(
        "\x1b[2J\x1b]0;pwned\x07<script>alert(1)</script> @team [ok](https://evil.example)",
        "$.x",
        actual="<img src=x onerror=1> | `code` *bold*\u202e",
    )
    runs = [
        ("a/results.json", results(check("c"))),
        ("b/results.json", results(check("c", "FAIL", findings=[hostile]))),
    ]
    text = render_markdown(build_matrix(runs))
    assert not any(ch in text for ch in "\x1b\x07\u202e")
    assert "<" not in text.replace("\\<", "")  # no raw HTML tag can open
    note = next(line for line in text.splitlines() if line.startswith("1. "))
    assert note == (
        "1. b / `c`: \\\\x1b\\[2J\\\\x1b\\]0;pwned\\\\x07\\<script\\>alert(1)\\</script\\> "
        "\\@team \\[ok\\](https://evil.example) at $.x (chat): expected 1, actual "
        "\\<img src=x onerror=1\\> \\| \\`code\\` \\*bold\\*\\\\u202e"
    )


def test_the_page_escapes_what_endpoints_sent():
    hostile = finding("<script>alert(1)</script>", "$.x", actual="<img src=x onerror=1>")
    runs = [
        ("a/results.json", results(check("c"))),
        ("b/results.json", results(check("c", "FAIL", findings=[hostile]))),
    ]
    page = render_html(build_matrix(runs))
    assert "<script>" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page.replace("https://api.example.com", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "<html>",
            "'{path}' is not JSON (Expecting value: line 1 column 1 (char 0)). Pass the "
            "results.json that `conformance run` wrote, not report.html or junit.xml.",
        ),
        (
            '{"hello": 1}',
            "'{path}' is JSON but not a conformance results.json (it has no schema_version "
            "and checks). Pass the results.json that `conformance run` wrote.",
        ),
        (
            '{"schema_version": 2, "checks": []}',
            "'{path}' has schema_version 2; this conformance reads schema_version 1. Run the "
            "suite again with this version to get a results.json it can read.",
        ),
    ],
)
def test_reading_a_wrong_file_says_what_it_is_and_what_to_pass(tmp_path, content, message):
    path = tmp_path / "results.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        read_results(path)
    assert str(caught.value) == message.format(path=path)


def test_reading_a_missing_file_or_a_directory(tmp_path):
    with pytest.raises(ConfigError) as caught:
        read_results(tmp_path / "nope.json")
    assert str(caught.value) == (
        f"'{tmp_path / 'nope.json'}': no such file. Pass the results.json that `conformance "
        "run` wrote in its --report-dir (default reports/results.json)."
    )
    with pytest.raises(ConfigError) as caught:
        read_results(tmp_path)
    assert str(caught.value) == (
        f"'{tmp_path}' is a directory. Pass the results.json inside it, e.g. "
        f"'{tmp_path / 'results.json'}'."
    )


def test_a_results_file_round_trips(tmp_path):
    path = tmp_path / "results.json"
    data = results(check("c"))
    path.write_text(json.dumps(data))
    assert read_results(path) == data


def test_a_long_value_in_a_cell_note_is_clipped_with_its_length():
    long = finding("x is wrong", "$.x", "chat", "e" * 250, {"k": "a" * 300})
    note = cell_of(check("c", "FAIL", findings=[long])).note
    actual = json.dumps({"k": "a" * 300})
    assert note == (
        f"x is wrong at $.x (chat): expected {'e' * 200}... (250 characters), "
        f"actual {actual[:200]}... ({len(actual)} characters)"
    )


def test_each_endpoint_has_a_summary_row_and_cells_link_to_its_report(tmp_path):
    a = tmp_path / "a"
    a.mkdir()
    (a / "report.html").write_text("<html></html>")
    runs = two_runs()
    runs[0][1]["clients"] = {
        "readiness": {
            "openai-python": {"status": "READY"},
            "langchain": {"status": "LIMITED", "features": ["streaming"]},
        }
    }
    runs[0][1]["latency"] = {"headers_s": {"p50": 0.1, "p95": 0.2}}
    stub = results(notes=["not run: the environment variable B_KEY is not set"])
    runs = [(str(a / "results.json"), runs[0][1]), ("c/results.json", stub)]
    html = render_html(build_matrix(runs, page=tmp_path / "out" / "compare.html"))
    summary = html[html.index('<table id="endpoint-summary">') :]
    summary = summary[: summary.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", summary)
    assert [re.sub("(<[^>]+>)+", "|", r) for r in rows[1:]] == [
        "|a|nonconformant|4 PASS|openai-python READY, langchain LIMITED (streaming)|"
        "headers p50 100 ms, p95 200 ms|-|",
        "|c|nonconformant|no checks ran|-|-|not run: the environment variable B_KEY is not set|",
    ]
    assert '<th><a href="../a/report.html">a</a></th>' in summary
    assert '<a href="../a/report.html#cf-check-usage_arithmetic">✓ PASS</a>' in html


def test_compare_as_json_for_bots_carries_what_the_page_shows():
    from conformance.report._machine import compare_json

    doc = json.loads(compare_json(build_matrix(two_runs())))
    assert (doc["format"], doc["version"]) == ("conformance-compare", 1)
    assert [c["label"] for c in doc["columns"]] == ["a", "b"]
    assert [c["model"] for c in doc["columns"]] == ["m-1", "m-2"]
    usage = next(r for r in doc["rows"] if r["check"] == "usage_arithmetic")
    assert usage["differs"] is True
    assert usage["cells"] == [
        {"status": "pass", "label": "PASS", "verdict": "PASS", "note": ""},
        {
            "status": "fail",
            "label": "FAIL",
            "verdict": "FAIL",
            "note": "total is wrong at $.usage.total_tokens (chat): expected 14, actual 15",
        },
    ]
    assert doc["scores"]["logprobs"] == [1.0, None]  # ERROR: nothing concluded
