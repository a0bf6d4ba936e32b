"""docs/ci.md stays true: its workflow is valid YAML that runs real commands and options."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from conformance.cli import main

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text()


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", DOC, flags=re.DOTALL)


def test_the_workflow_installs_runs_uploads_and_fails_on_new_findings():
    workflow = yaml.safe_load(blocks("yaml")[1])
    steps = workflow["jobs"]["conformance"]["steps"]
    names = [s.get("name", s.get("uses")) for s in steps]
    assert names == [
        "actions/checkout@v4",
        "actions/setup-python@v5",
        "Install conformance",
        "Run the conformance suite",
        "Upload the report",
    ]  # the summary and annotations: written by the run step itself under Actions
    run = steps[3]
    assert run["env"]["CONFORMANCE_API_KEY"] == "${{ secrets.CONFORMANCE_API_KEY }}"
    assert run["run"].split() == [
        "python", "-m", "conformance", "run", "--report-dir", "reports",
        "--baseline", "conformance-baseline.yaml", "--fail-on", "fail", "--max-requests", "200",
    ]  # fmt: skip
    upload = steps[4]
    assert upload["if"] == "${{ always() }}"
    assert upload["with"]["path"] == "reports/"


def test_every_option_the_doc_uses_exists():
    commands = [
        line
        for block in [*blocks("sh"), blocks("yaml")[1], blocks("yaml")[2]]
        for line in block.replace(">-\n", "").splitlines()
    ]
    used = set()
    for line in commands:
        match = re.search(r"conformance (run|compare|baseline write|history|summary)\b(.*)", line)
        if match:
            used |= {(match.group(1), o) for o in re.findall(r"(--[a-z-]+)", match.group(2))}
    workflow_run = yaml.safe_load(blocks("yaml")[1])["jobs"]["conformance"]["steps"][3]["run"]
    used |= {("run", o) for o in re.findall(r"(--[a-z-]+)", workflow_run)}
    assert ("run", "--baseline") in used
    assert ("compare", "--format") in used
    assert ("history", "--format") in used
    assert "-o, --output" in CliRunner().invoke(main, ["summary", "--help"]).output
    for command, option in sorted(used):
        helped = CliRunner().invoke(main, [*command.split(), "--help"])
        assert helped.exit_code == 0
        assert option in helped.output, (command, option)


def test_the_gitlab_job_runs_the_suite_and_reports_junit_and_the_summary():
    job = yaml.safe_load(blocks("yaml")[2])["conformance"]
    assert job["script"][-1].split() == [
        "python", "-m", "conformance", "run", "--report-dir", "reports",
        "--baseline", "conformance-baseline.yaml",
    ]  # fmt: skip
    assert job["after_script"] == [
        "python -m conformance summary reports/results.json -o reports/summary.md"
    ]
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"] == {"junit": "reports/junit.xml"}


def test_the_doc_has_no_hand_written_python():
    assert "python - <<" not in DOC
    assert not blocks("python")
    assert "import json" not in DOC
