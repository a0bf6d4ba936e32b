"""CI gating and comparison from the command line, as a pipeline runs them: real
processes, the embedded reference server with deliberate defects, real files."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.e2e.conftest import CANARY, run_cli, serving
from tests.report.conftest import run_against

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
GATE_SCHEMA = json.loads((ROOT / "docs" / "results-schema.json").read_text())
FAST = ("--phase", "checks")  # the fixed checks only: gating does not need exploration


def run(report_dir: Path, *args: str):
    return run_cli("run", "--report-dir", str(report_dir), *FAST, *args)


def gate_of(report_dir: Path):
    data = json.loads((report_dir / "results.json").read_text())
    schema = {**GATE_SCHEMA, "$ref": "#/properties/gate"}
    schema.pop("required")
    schema.pop("properties")
    schema.pop("additionalProperties")
    schema["$ref"] = "#/$defs/gate"
    schema["$defs"] = {**GATE_SCHEMA["$defs"], "gate": GATE_SCHEMA["properties"]["gate"]}
    jsonschema.Draft202012Validator(schema).validate(data["gate"])
    return data, data["gate"]


def test_a_baseline_from_a_defective_run_passes_it_and_fails_a_second_defect(tmp_path):
    first = run(tmp_path / "first", "--defect", "bad-usage-total")
    assert first.returncode == 1, first.stdout + first.stderr
    known = tmp_path / "known.yaml"
    wrote = run_cli("baseline", "write", str(tmp_path / "first" / "results.json"), "-o", str(known))
    assert wrote.returncode == 0, wrote.stderr
    entries = yaml.safe_load(known.read_text())["findings"]
    # One entry per defect, listing every probe that showed it (not one per probe).
    [usage] = [e for e in entries if e["check"] == "usage_arithmetic"]
    assert usage["json_path"] == "$.usage.total_tokens"
    assert {"chat", "chat_stream_usage"} <= set(usage["probes"])
    assert "exchange" not in usage
    assert wrote.stdout == f"conformance: wrote {len(entries)} known findings to {known}\n"
    noted = known.read_text().replace(
        "  title: usage.total_tokens", "  note: ticket 7\n  title: usage.total_tokens", 1
    )
    known.write_text(noted)
    rewrote = run_cli(
        "baseline", "write", str(tmp_path / "first" / "results.json"), "-o", str(known)
    )
    assert rewrote.stdout == (
        f"conformance: wrote {len(entries)} known findings to {known} "
        "(kept 1 note from the file it replaced)\n"
    )
    assert [e.get("note") for e in yaml.safe_load(known.read_text())["findings"]].count(
        "ticket 7"
    ) == 1

    again = run(tmp_path / "again", "--defect", "bad-usage-total", "--baseline", str(known))
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"conformance: baseline {known}: {len(entries)} known, 0 new, 0 stale\n" in again.stdout
    data, gate = gate_of(tmp_path / "again")
    assert data["verdict"] == "nonconformant"  # still true of the endpoint
    assert data["exit_code"] == 0
    assert gate["new"] == []
    assert len(gate["known"]) == len(entries)

    worse = run(
        tmp_path / "worse",
        "--defect",
        "bad-usage-total",
        "--defect",
        "no-done",
        "--baseline",
        str(known),
    )
    assert worse.returncode == 1, worse.stdout + worse.stderr
    [line] = [x for x in worse.stdout.splitlines() if "new finding: stream_done_terminator" in x]
    assert line == (  # one line for the defect, naming every probe that showed it
        "conformance: new finding: stream_done_terminator [chat_stream, chat_stream_usage, "
        "chat_n_stream, cap_max_tokens_stream] $: the stream is not terminated by data: [DONE] "
        "(in 4 of 4 trials)"
    )
    _, gate = gate_of(tmp_path / "worse")
    assert {n["check"] for n in gate["new"]} >= {"stream_done_terminator"}
    assert "usage_arithmetic" not in {n["check"] for n in gate["new"]}
    html = (tmp_path / "worse" / "report.html").read_text()
    assert "known (baseline)" in html
    assert '<td class="cf-new">new</td>' in html

    fixed = run(tmp_path / "fixed", "--baseline", str(known), "--fail-on", "warn")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    _, gate = gate_of(tmp_path / "fixed")
    # Entries seen in some trials only (client_reads_exchange's, of probes whose trials were
    # not all replayed alike) are "not checked", never stale, for missing from one run.
    unverified = gate["unverified"]
    assert {e["check"] for e in unverified} <= {"client_reads_exchange"}
    stale = len(entries) - len(unverified)
    not_checked = f", {len(unverified)} not checked this run" if unverified else ""
    assert (
        f"conformance: baseline {known}: 0 known, 0 new, {stale} stale{not_checked}\n"
        in fixed.stdout
    )
    assert gate["fail_on"] == "warn"
    assert len(gate["stale"]) == stale
    strict = run(tmp_path / "strict", "--baseline", str(known), "--strict-baseline")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "(fails: --strict-baseline)" in strict.stdout


def test_a_broken_or_missing_baseline_is_a_usage_error_before_any_request(tmp_path):
    missing = tmp_path / "known.yaml"
    proc = run(tmp_path / "r", "--baseline", str(missing))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"conformance: error: --baseline '{missing}': no such file. Write one from a run "
        f"with `conformance baseline write reports/results.json -o {missing}`, or fix the "
        "path.\n"
    )
    assert not (tmp_path / "r").exists()  # refused before the run started
    broken = tmp_path / "broken.yaml"
    broken.write_text("findings:\n  - check: [\n")
    proc = run(tmp_path / "r", "--baseline", str(broken))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"conformance: error: --baseline '{broken}' is not valid YAML")
    proc = run(tmp_path / "r", "--fail-on", "error")
    assert proc.returncode == 2
    assert (
        "Invalid value for '--fail-on': 'error' is not one of 'fail', 'warn', 'client'."
        in proc.stderr
    )
    proc = run(tmp_path / "r", "--strict-baseline")
    assert proc.returncode == 2
    assert proc.stderr == (
        "conformance: error: --strict-baseline needs --baseline FILE: it makes the file's "
        "stale entries fail.\n"
    )


def test_baseline_write_and_compare_refuse_wrong_input_with_exit_2(tmp_path):
    missing = tmp_path / "results.json"
    proc = run_cli("baseline", "write", str(missing))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"conformance: error: baseline write '{missing}': no such file. Pass the results.json "
        "that `conformance run` wrote in its --report-dir (default reports/results.json).\n"
    )
    report = tmp_path / "report.html"
    report.write_text("<html></html>")
    proc = run_cli("compare", str(report), "-o", str(tmp_path / "c.html"))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"conformance: error: compare '{report}' is not JSON (Expecting value: line 1 column "
        "1 (char 0)). Pass the results.json that `conformance run` wrote, not report.html or "
        "junit.xml.\n"
    )
    old = tmp_path / "old.json"
    old.write_text('{"schema_version": 0, "checks": []}')
    proc = run_cli("compare", str(old))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"conformance: error: compare '{old}' has schema_version 0; this conformance reads "
        "schema_version 1. Run the suite again with this version to get a results.json it "
        "can read.\n"
    )
    assert not (tmp_path / "c.html").exists()
    precious = tmp_path / "notes.txt"
    precious.write_text("- my notes: [\n")
    good = tmp_path / "good.json"
    good.write_text('{"schema_version": 1, "checks": []}')
    proc = run_cli("baseline", "write", str(good), "-o", str(precious))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"conformance: error: --output '{precious}' exists and is not a baseline file; move "
        "it away or pass another --output (baseline write replaces only baseline files).\n"
    )
    assert precious.read_text() == "- my notes: [\n"


def test_compare_writes_markdown_to_stdout_or_a_file(runs, tmp_path):
    a, b = str(runs.clean / "results.json"), str(runs.defective / "results.json")
    proc = run_cli("compare", a, b, "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("## Conformance comparison: clean vs defective\n")
    row = next(line for line in proc.stdout.splitlines() if "`usage_arithmetic`" in line)
    assert row.startswith("| usage | `usage_arithmetic` **differs** | ✅ PASS | ❌ FAIL [")
    out = tmp_path / "compare.md"
    proc = run_cli("compare", a, b, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().startswith("## Conformance comparison: clean vs defective\n")
    assert runs.outputs["compare"].stdout.startswith("conformance: compared 2 endpoints over ")


def test_no_file_a_run_writes_holds_the_api_key(runs, tmp_path):
    """The endpoint was tested with the canary key (and a second run had the server echo
    the Authorization header back): not one occurrence in anything written."""
    with serving("--defect", "bad-usage-total", "--fault", "echo-auth") as url:
        echo = run_against(url, runs.root / "echo", *FAST)
    assert echo.returncode == 1, echo.stdout + echo.stderr
    known = runs.root / "known.yaml"
    wrote = run_cli("baseline", "write", str(runs.defective / "results.json"), "-o", str(known))
    assert wrote.returncode == 0
    written = [p for p in runs.root.rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {
        "report.html",
        "results.json",
        "junit.xml",
        "compare.html",
        "known.yaml",
    }
    for path in written:
        assert CANARY.encode() not in path.read_bytes(), path
    for proc in [*runs.outputs.values(), echo, wrote]:
        assert CANARY not in proc.stdout + proc.stderr


def test_fail_on_warn_says_that_the_warn_failed_the_gate(tmp_path):
    proc = run(
        tmp_path / "r",
        "--defect",
        "unrequested-usage",
        "-k",
        "stream_usage_unrequested",
        "--fail-on",
        "warn",
        "-q",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("conformance: conformant: 1 check (1 WARN); ")
    assert (
        "conformance: the gate failed the run: --fail-on warn, and 1 WARN (a broken SHOULD) is "
        "not in a baseline: stream_usage_unrequested"
    ) in lines


@pytest.mark.parametrize(
    ("select", "phase", "message"),
    [
        (
            "usage_arithmatic",
            "checks",
            "-k 'usage_arithmatic' matches no check of --phase checks. The closest check ids: "
            "usage_arithmetic, usage_stream_matches. `conformance checks` lists them all.",
        ),
        (
            "explore_recovers",
            "checks",
            "-k 'explore_recovers' matches no check of --phase checks. It selects only checks "
            "of the explore phase: add --phase explore or --phase all. `conformance checks` "
            "lists them all.",
        ),
        (
            "usage and (",
            "all",
            "-k 'usage and (' is not a valid expression: expected not OR left parenthesis OR "
            "identifier; got end of input. Use pytest -k syntax, e.g. -k 'usage and not stream'.",
        ),
    ],
)
def test_a_k_that_selects_nothing_is_a_usage_error_before_any_request(
    tmp_path, select, phase, message
):
    # An unreachable endpoint: any request sent would be exit 3, not this exit 2.
    proc = run_cli(
        "run",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--model",
        "m",
        "-k",
        select,
        "--phase",
        phase,
        "--report-dir",
        str(tmp_path),
    )
    assert (proc.returncode, proc.stderr) == (2, f"conformance: error: {message}\n")
    assert not (tmp_path / "results.json").exists()


def test_k_selects_here_what_pytest_selects_in_the_run(tmp_path):
    from conformance.cli._select import selected

    proc = run(tmp_path / "r", "-k", "usage and not stream", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "r" / "results.json").read_text())
    assert sorted(c["id"] for c in data["checks"]) == sorted(
        selected("usage and not stream", "checks")
    )
