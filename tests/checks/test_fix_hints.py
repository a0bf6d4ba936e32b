"""Every check says how to fix its failure (what a conforming answer looks like and the
usual cause), beside its registration; the terminal, report.html and docs/checks.md show it."""

from __future__ import annotations

from conformance.checks import registered_checks
from conformance.report._fixes import anchor_of, docs_link
from conformance.report._html import check_html
from conformance.report._text import outcome_lines


def test_every_check_has_a_fix_naming_the_conforming_answer_and_the_usual_cause():
    missing = [c.id for c in registered_checks() if "Usual cause: " not in c.fix]
    assert missing == []


def test_a_failing_check_shows_its_fix_in_the_terminal_and_the_report():
    check = {
        "id": "usage_arithmetic", "title": "Usage adds up", "verdict": "FAIL",
        "severity": "MUST", "area": "usage", "spec": "#/x",
        "findings": [{"kind": "k", "title": "off", "json_path": "$.usage", "exchange": "chat"}],
    }  # fmt: skip
    fix = next(c.fix for c in registered_checks() if c.id == "usage_arithmetic")
    assert outcome_lines({"checks": [check]}) == [
        "FAIL usage_arithmetic: off at $.usage (probe chat)",
        f"  fix: {fix}",
    ]
    html = check_html(check, {})
    assert '<p class="cf-fix"><b>How to fix:</b> Report total_tokens = ' in html
    assert f'href="{docs_link("usage_arithmetic")}"' in html
    assert docs_link("usage_arithmetic").endswith("docs/checks.md#check-usage_arithmetic")
    assert "cf-fix" not in check_html({**check, "verdict": "PASS", "findings": []}, {})


def test_the_catalogue_doc_has_an_anchor_and_the_fix_of_every_check():
    from conformance.report._catalogue_doc import catalogue_markdown

    doc = catalogue_markdown(registered_checks())
    for check in registered_checks():
        assert f'<a id="{anchor_of(check.id)}"></a>' in doc
        assert f"- How to fix: {check.fix}\n" in doc
