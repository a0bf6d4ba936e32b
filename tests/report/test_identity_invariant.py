"""The same defect with other values keeps its identity: in the baseline, in `compare`, in
exploration's deduplication and in the report's grouping. Its title may quote the values;
what identifies it is the check, the JSON path (indices as [*]) and the kind of failure,
never the probe, trial or re-ask that showed it (issue 21)."""

from __future__ import annotations

import pytest

from conformance.checks._model import Finding, group_findings, merge_trials, probe_family
from conformance.explore._exploration import Discovery, _key
from conformance.report._compare import build_matrix
from conformance.run._baseline import Baseline, Gate
from conformance.wire._exchange import Exchange, RecordedRequest
from tests.report._data import check, finding, results


def status_finding(status: int) -> dict[str, object]:
    """success_status's finding as results.json carries it: the status is in the title."""
    data = finding(f"a valid request was answered with {status}, not 200", "$", "chat", 200, status)
    return {**data, "kind": "a valid request was not answered with 200"}


def run(status: int) -> dict[str, object]:
    return results(check("success_status", "FAIL", area="http", findings=[status_finding(status)]))


def test_a_baseline_written_at_500_knows_the_same_defect_at_503():
    baseline = Baseline.from_results(run(500))
    gated = Gate(baseline=baseline, strict_baseline=True).apply(run(503))
    assert (gated["exit_code"], gated["gate"]["new"], gated["gate"]["stale"]) == (0, [], [])
    assert [k["title"] for k in gated["gate"]["known"]] == [
        "a valid request was answered with 503, not 200"
    ]


def test_a_baseline_written_before_kinds_still_matches_by_its_title(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(
        "version: 1\nfindings:\n- check: success_status\n  exchange: chat\n  json_path: $\n"
        "  title: a valid request was answered with 500, not 200\n"
    )
    assert Gate(baseline=Baseline.load(path)).apply(run(500))["exit_code"] == 0
    assert Gate(baseline=Baseline.load(path)).apply(run(503))["exit_code"] == 1


def test_compare_sees_no_difference_when_only_the_values_differ():
    matrix = build_matrix([("a/results.json", run(500)), ("b/results.json", run(503))])
    [row] = matrix.rows
    assert not row.differs


def test_compare_sees_a_different_defect_of_the_same_check():
    other = finding("a valid request was answered with 500, not 200", "$", "chat_stream")
    data = results(check("success_status", "FAIL", area="http", findings=[other]))
    matrix = build_matrix([("a/results.json", run(500)), ("b/results.json", data)])
    [row] = matrix.rows
    assert row.differs


def exchange(exchange_id: str) -> Exchange:
    return Exchange(exchange_id, RecordedRequest("POST", "http://127.0.0.1/v1", {}, {}))


def judged(status: int, exchange_id: str = "chat") -> Finding:
    return Finding(
        title=f"a schema-valid request was answered with {status}",
        kind="server error",
        check_id="explore_no_server_errors",
        exchange=exchange(exchange_id),
    )


def test_exploration_counts_the_same_defect_with_other_values_once():
    first = Discovery("explore_no_server_errors", judged(500, "explore-valid-1"), {})
    later = Discovery("explore_no_server_errors", judged(502, "explore-valid-7"), {})
    assert first.key == later.key == _key("explore_no_server_errors", judged(504))


def test_the_report_groups_the_same_defect_with_other_values_into_one_finding():
    [grouped] = group_findings([judged(500), judged(503), judged(500)])
    assert (grouped.count, grouped.title) == (3, "a schema-valid request was answered with 500")
    assert grouped.to_dict()["kind"] == "server error"
    # The same defect shown by another probe is the same finding, listing both probes.
    [both] = group_findings([judged(500), judged(500, "chat_stream")])
    assert (both.count, both.probes) == (2, ("chat", "chat_stream"))


@pytest.mark.parametrize(
    ("exchange_id", "family"),
    [
        ("tool_auto", "tool_auto"),
        ("tool_auto_again", "tool_auto"),
        ("tool_auto_again2", "tool_auto"),
        ("tool_auto_again2#3", "tool_auto"),
        ("stop_list#4", "stop_list"),
        ("explore-valid-28", "explore-valid-28"),
    ],
)
def test_the_probe_family_drops_the_trial_and_the_re_ask(exchange_id, family):
    assert probe_family(exchange_id) == family


def tool_finding(exchange_id: str, choice: int = 0) -> Finding:
    return Finding(
        title="a choice with tool calls does not finish with tool_calls",
        json_path=f"$.choices[{choice}].finish_reason",
        check_id="finish_reason_tool_calls",
        exchange=exchange(exchange_id),
    )


def test_trials_and_re_asks_of_one_defect_merge_into_one_finding_listing_the_probes():
    per_trial = [
        [tool_finding("tool_auto")],
        [],
        [tool_finding("tool_auto_again2#3"), tool_finding("tool_auto_stream#3", choice=1)],
        [tool_finding("tool_auto_again#4")],
    ]
    [merged] = merge_trials(per_trial)
    assert (merged.seen, merged.count) == (3, 4)  # three trials showed it, four answers
    assert merged.probes == ("tool_auto", "tool_auto_stream")
    assert merged.exchange.id == "tool_auto"  # the first example is the evidence
    assert merged.to_dict()["probes"] == ["tool_auto", "tool_auto_stream"]


def gated_finding(exchange_id: str) -> dict[str, object]:
    return finding("no tool_calls", "$.choices[0].finish_reason", exchange_id)


def tool_run(exchange_id: str) -> dict[str, object]:
    return results(check("finish_reason_tool_calls", "FAIL", findings=[gated_finding(exchange_id)]))


def test_a_baseline_does_not_flap_on_which_re_ask_or_trial_showed_the_defect(tmp_path):
    baseline = Baseline.from_results(tool_run("tool_auto_again"))
    for shown_by in ("tool_auto", "tool_auto_again2", "tool_auto#3", "tool_auto_again2#4"):
        assert Gate(baseline=baseline).apply(tool_run(shown_by))["exit_code"] == 0, shown_by
    old = tmp_path / "old.yaml"  # written by a version that identified findings by exchange
    old.write_text(
        "version: 1\nfindings:\n- check: finish_reason_tool_calls\n  exchange: tool_auto_again\n"
        "  json_path: $.choices[0].finish_reason\n  kind: no tool_calls\n"
    )
    gated = Gate(baseline=Baseline.load(old), strict_baseline=True).apply(
        tool_run("tool_auto_again2")
    )
    assert (gated["exit_code"], gated["gate"]["new"], gated["gate"]["stale"]) == (0, [], [])


def test_an_exploration_finding_of_a_baselined_root_cause_is_known():
    total = finding("total is wrong", "$.usage.total_tokens", "chat")
    fixed = results(
        check("usage_arithmetic", "FAIL", findings=[{**total, "check_id": "usage_arithmetic"}])
    )
    baseline = Baseline.from_results(fixed)  # from a run of the fixed probes only
    explored = {
        **finding("total is wrong", "$.usage.total_tokens", "explore-valid-106"),
        "check_id": "usage_arithmetic",  # the check that judged the generated exchange
    }
    data = results(
        check("usage_arithmetic", "FAIL", findings=fixed["checks"][0]["findings"]),
        check("explore_response_schema", "FAIL", area="explore", findings=[explored]),
    )
    gated = Gate(baseline=baseline, strict_baseline=True).apply(data)
    assert (gated["exit_code"], gated["gate"]["new"]) == (0, [])
    [known] = gated["gate"]["known"]  # one root cause, both probes
    assert known["probes"] == ["chat", "explore-valid-106"]
