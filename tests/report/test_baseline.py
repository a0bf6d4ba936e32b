"""Gating: finding identity, baseline files, and what fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conformance._errors import ConfigError
from conformance.run._baseline import Baseline, Entry, Gate, gate_summary, identity
from tests.report._data import check, finding, results

TOTAL = finding("total is wrong", "$.usage.total_tokens", "chat", 14, 15)
STREAM_TOTAL = finding(
    "total is wrong", "$.usage.total_tokens", "chat_stream", 14, 15, chunk_index=9
)
DONE = finding("no [DONE]", "$", "chat_stream")
SHAPE = finding("error body shape", "$.error", "invalid_type")


def run_with(*checks):
    return results(*checks)


def entry(check_id, found, **more):
    """The baseline entry `baseline write` makes of ``found``."""
    ident = identity(check_id, found)
    return Entry(
        check=ident["check"],
        json_path=ident["json_path"],
        kind=ident["kind"],
        title=ident["title"],
        probes=tuple(ident["probes"]),
        **more,
    )


def test_identity_is_check_path_and_kind_and_ignores_values():
    assert identity("usage_arithmetic", TOTAL) == {
        "check": "usage_arithmetic",
        "json_path": "$.usage.total_tokens",
        "kind": "total is wrong",  # a results.json without kinds: the title is the kind
        "title": "total is wrong",
        "exchange": "chat",  # the example's, for people
        "probes": ["chat"],  # a results.json without probes: its exchange's probe
    }
    other_values = finding("total is wrong", "$.usage.total_tokens", "chat", 99, 100, chunk_index=3)
    assert identity("usage_arithmetic", other_values) == identity("usage_arithmetic", TOTAL)


def test_a_baseline_written_from_a_run_lists_each_fail_and_warn_finding_once():
    data = run_with(
        check("usage_arithmetic", "FAIL", findings=[TOTAL, STREAM_TOTAL]),
        check("error_body_shape", "WARN", area="errors", severity="SHOULD", findings=[SHAPE]),
        check("success_status"),
    )
    assert [e.to_dict() for e in Baseline.from_results(data).entries] == [
        {  # the same defect shown by two probes: one entry listing both
            "check": "usage_arithmetic",
            "json_path": "$.usage.total_tokens",
            "kind": "total is wrong",
            "title": "total is wrong",
            "probes": ["chat", "chat_stream"],
        },
        entry("error_body_shape", SHAPE).to_dict(),
    ]
    assert len(Baseline.from_results(data, include_warn=False).entries) == 1


def test_a_written_baseline_reads_back_the_same(tmp_path):
    data = run_with(check("usage_arithmetic", "FAIL", findings=[TOTAL]))
    path = tmp_path / "known.yaml"
    text = Baseline.from_results(data).dump(source=data)
    path.write_text(text)
    assert text.startswith("# conformance baseline: findings known and accepted for now.\n")
    assert yaml.safe_load(text)["written_from"] == {
        "endpoint": "https://api.example.com/v1",
        "model": "m-1",
        "profile": "strict",
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    assert Baseline.load(path).entries == (entry("usage_arithmetic", TOTAL),)


def test_known_findings_pass_new_ones_fail():
    known = Baseline((entry("usage_arithmetic", TOTAL),), path="known.yaml")
    data = run_with(check("usage_arithmetic", "FAIL", findings=[TOTAL]), check("other"))
    gated = Gate(baseline=known).apply(data)
    assert gated["exit_code"] == 0
    assert gated["verdict"] == "nonconformant"  # the fact stays; the policy decides the exit
    assert gated["gate"] == {
        "fail_on": "fail",
        "baseline": "known.yaml",
        "strict_baseline": False,
        "new": [],
        "known": [identity("usage_arithmetic", TOTAL)],
        "stale": [],
        "unverified": [],
    }
    worse = run_with(
        check("usage_arithmetic", "FAIL", findings=[TOTAL, STREAM_TOTAL]),
        check("stream_done_terminator", "FAIL", area="stream", findings=[DONE]),
    )
    gated = Gate(baseline=known).apply(worse)
    assert gated["exit_code"] == 1
    assert gated["gate"]["new"] == [identity("stream_done_terminator", DONE)]
    assert gated["gate"]["known"] == [  # the known defect shown by another probe: known
        {**identity("usage_arithmetic", TOTAL), "probes": ["chat", "chat_stream"]}
    ]
    assert gate_summary(gated["gate"]) == [
        "baseline known.yaml: 1 known, 1 new, 0 stale",
        "new finding: stream_done_terminator [chat_stream] $: no [DONE]",
    ]


def test_an_entry_may_leave_out_fields_to_match_any_value():
    whole_check = Baseline((Entry(check="usage_arithmetic"),), path="k.yaml")
    data = run_with(check("usage_arithmetic", "FAIL", findings=[TOTAL, STREAM_TOTAL]))
    assert Gate(baseline=whole_check).apply(data)["exit_code"] == 0
    by_path = Baseline((Entry(check="usage_arithmetic", json_path="$.other"),), path="k.yaml")
    assert Gate(baseline=by_path).apply(data)["exit_code"] == 1


def test_entries_that_no_longer_occur_are_stale_and_fail_only_when_strict():
    known = Baseline(
        (
            entry("usage_arithmetic", TOTAL),
            Entry(check="tools_called", note="not run this time"),
        ),
        path="known.yaml",
    )
    fixed = run_with(check("usage_arithmetic"))
    relaxed = Gate(baseline=known).apply(fixed)
    assert relaxed["exit_code"] == 0
    assert relaxed["gate"]["stale"] == [entry("usage_arithmetic", TOTAL).to_dict()]
    assert relaxed["gate"]["unverified"] == [{"check": "tools_called", "note": "not run this time"}]
    strict = Gate(baseline=known, strict_baseline=True).apply(run_with(check("usage_arithmetic")))
    assert strict["exit_code"] == 1
    assert gate_summary(strict["gate"]) == [
        "baseline known.yaml: 0 known, 0 new, 1 stale, 1 not checked this run",
        "stale baseline entry (no longer found): check=usage_arithmetic "
        "json_path=$.usage.total_tokens kind=total is wrong (fails: --strict-baseline)",
    ]


def test_fail_on_warn_makes_should_findings_fail_unless_known():
    data = run_with(
        check("error_body_shape", "WARN", area="errors", severity="SHOULD", findings=[SHAPE])
    )
    assert Gate().apply(run_with(*data["checks"]))["exit_code"] == 0
    assert Gate(fail_on="warn").apply(run_with(*data["checks"]))["exit_code"] == 1
    known = Baseline((Entry(check="error_body_shape"),), path="k.yaml")
    assert Gate(fail_on="warn", baseline=known).apply(data)["exit_code"] == 0


def test_inconclusive_runs_still_exit_3_when_nothing_new_fails():
    data = run_with(check("a"), check("b", "ERROR", reason="rate limited"))
    assert Gate().apply(data)["exit_code"] == 3
    assert Gate().apply(results())["exit_code"] == 3  # no checks ran at all
    failing = run_with(check("a", "FAIL", findings=[TOTAL]), check("b", "ERROR"))
    assert Gate().apply(failing)["exit_code"] == 1


def test_an_unknown_fail_on_is_refused():
    with pytest.raises(ConfigError) as caught:
        Gate(fail_on="error")
    assert str(caught.value) == "--fail-on 'error' is unknown; use 'fail', 'warn' or 'client'."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "findings: [\n",
            "--baseline '{path}' is not valid YAML at line 2. Fix the file, or write it again "
            "with `conformance baseline write`.",
        ),
        (
            "- check: a\n",
            "--baseline '{path}' is not a baseline: expected a mapping with `version: 1` and "
            "`findings:`, a list of entries each with `check` and optionally `exchange`, "
            "`json_path`, `kind`, `title` and `note`.",
        ),
        (
            "version: 2\nfindings: []\n",
            "--baseline '{path}' has version 2; this conformance reads version 1. Write it "
            "again with `conformance baseline write`.",
        ),
        (
            "findings:\n- exchange: chat\n",
            "--baseline '{path}': finding 1 has no `check` (a check id such as "
            "usage_arithmetic); expected a mapping with `version: 1` and `findings:`, a list "
            "of entries each with `check` and optionally `exchange`, `json_path`, `kind`, `title` "
            "and `note`.",
        ),
        (
            "findings:\n- check: a\n- check: b\n  jsonpath: $.x\n",
            "--baseline '{path}': finding 2 has unknown field 'jsonpath'; expected a mapping "
            "with `version: 1` and `findings:`, a list of entries each with `check` and "
            "optionally `exchange`, `json_path`, `kind`, `title` and `note`.",
        ),
        (
            "findings:\n- check: a\n  title: 3\n",
            "--baseline '{path}': finding 1: `title` must be a string.",
        ),
    ],
)
def test_a_broken_baseline_says_which_file_what_is_wrong_and_the_fix(tmp_path, text, message):
    path = tmp_path / "known.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        Baseline.load(path)
    assert str(caught.value) == message.format(path=path)


def test_a_missing_baseline_names_the_command_that_writes_one(tmp_path):
    path = tmp_path / "known.yaml"
    with pytest.raises(ConfigError) as caught:
        Baseline.load(path)
    assert str(caught.value) == (
        f"--baseline '{path}': no such file. Write one from a run with `conformance baseline "
        f"write reports/results.json -o {path}`, or fix the path."
    )


EXPECTED_SHAPE = (
    "expected a mapping with `version: 1` and `findings:`, a list of entries each with `check` "
    "and optionally `exchange`, `json_path`, `kind`, `title` and `note`"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# nothing known yet\n",
         f"is empty; {EXPECTED_SHAPE} (`findings: []` when nothing is known yet)."),
        ("known: []\n", f"is not a baseline: {EXPECTED_SHAPE}."),
        ("findings: 5\n", f"is not a baseline: {EXPECTED_SHAPE}."),
        ("findings: []\nknown: []\n", f"has unknown top-level field 'known'; {EXPECTED_SHAPE}."),
        ("a: &x [1]\nfindings: *x\n", "uses a YAML alias (*x) at line 2; aliases are refused "
         "(they can expand a small file without bound): write the value out in full."),
        ("findings: " + "[" * 100_000 + "]" * 100_000, "is nested too deeply to read."),
    ],
    ids=["empty", "known", "findings-5", "extra-field", "alias", "deep"],
)  # fmt: skip
def test_every_wrong_shape_of_baseline_is_refused_alike(tmp_path, text, message):
    path = tmp_path / "known.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        Baseline.load(path)
    assert str(caught.value).startswith(f"--baseline '{path}' {message}")


def test_a_baseline_that_knows_nothing_says_so(tmp_path):
    path = tmp_path / "known.yaml"
    path.write_text("version: 1\nfindings: []\n")
    assert Baseline.load(path).entries == ()


def test_a_baseline_that_is_not_a_regular_file_is_refused(tmp_path):
    with pytest.raises(ConfigError) as caught:
        Baseline.load(Path("/dev/zero"))
    assert str(caught.value).startswith(
        "--baseline '/dev/zero' is not a regular file (a device, a pipe or a directory?)."
    )


def test_exploration_findings_are_known_whatever_generated_request_showed_them():
    first = finding("total is wrong", "$.usage.total_tokens", "explore-valid-28")
    later = finding("total is wrong", "$.usage.total_tokens", "explore-valid-3")
    data = run_with(check("explore_response_schema", "FAIL", area="explore", findings=[first]))
    baseline = Baseline.from_results(data)
    assert [e.to_dict() for e in baseline.entries] == [
        {
            "check": "explore_response_schema",
            "json_path": "$.usage.total_tokens",
            "kind": "total is wrong",
            "title": "total is wrong",
            "probes": ["explore-valid-28"],
        }
    ]
    rerun = run_with(check("explore_response_schema", "FAIL", area="explore", findings=[later]))
    gated = Gate(baseline=baseline).apply(rerun)
    assert gated["exit_code"] == 0
    assert gated["gate"]["known"] == [
        {
            "check": "explore_response_schema",
            "json_path": "$.usage.total_tokens",
            "kind": "total is wrong",
            "title": "total is wrong",
            "exchange": "explore-valid-3",
            "probes": ["explore-valid-3"],
        }
    ]


def test_rewriting_a_baseline_keeps_the_notes_of_findings_still_found():
    older = Baseline(
        (
            entry("usage_arithmetic", TOTAL, note="provider ticket 12"),
            Entry(check="gone", note="fixed since"),
        )
    )
    data = run_with(
        check("usage_arithmetic", "FAIL", findings=[TOTAL]),
        check("stream_done_terminator", "FAIL", area="stream", findings=[DONE]),
    )
    newer, kept = Baseline.from_results(data).with_notes_from(older)
    assert kept == 1
    assert [e.note for e in newer.entries] == ["provider ticket 12", ""]
