"""docs/checks.md is generated from the registered checks and kept current."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from conformance.checks import get_check, registered_checks
from conformance.checks._model import Verdict
from conformance.cli import main
from conformance.engine._result import CheckResult
from conformance.explore import PROPERTIES
from conformance.report._catalogue_doc import catalogue_markdown, failure_line
from conformance.report._text import render_result

DOC = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def test_the_committed_catalogue_is_current():
    expected = catalogue_markdown(registered_checks(), PROPERTIES)
    assert DOC.read_text(encoding="utf-8") == expected, (
        "docs/checks.md is stale: run `python3 -m conformance checks --format markdown "
        "> docs/checks.md`"
    )


def test_the_command_prints_the_catalogue():
    result = CliRunner().invoke(main, ["checks", "--format", "markdown"])
    assert result.exit_code == 0
    assert result.output == catalogue_markdown(registered_checks(), PROPERTIES)


def test_every_check_and_property_has_a_section_with_its_failure_line():
    text = DOC.read_text(encoding="utf-8")
    for check in [*registered_checks(), *PROPERTIES]:
        assert f"### `{check.id}`: {check.title}\n" in text
        assert f"- Enforces: `{check.spec}`\n" in text
        assert f"- Fails as: `{failure_line(check)}`\n" in text


def test_the_failure_line_is_the_terminal_head_of_a_failure():
    must, should = get_check("usage_arithmetic"), get_check("unknown_fields_accepted")
    assert failure_line(must) == (
        "usage_arithmetic [FAIL, MUST, usage]: "
        "Usage adds up: total_tokens = prompt_tokens + completion_tokens"
    )
    head = render_result(CheckResult(check=must, verdict=Verdict.FAIL)).splitlines()[0]
    assert failure_line(must) == head
    assert failure_line(should) == (
        "unknown_fields_accepted [WARN, SHOULD, messages]: "
        "Unknown request fields are accepted (ignored)"
    )


def test_the_text_format_is_unchanged_by_default():
    result = CliRunner().invoke(main, ["checks"])
    assert result.exit_code == 0
    first = registered_checks()[0]
    assert result.output.splitlines()[0].split()[:3] == [first.id, first.area, "MUST"]
