"""The same defect with other values keeps its identity: in the baseline, in `compare`, in
exploration's deduplication and in the report's grouping. Its title may quote the values;
what identifies it is the check, the probe, the JSON path and the kind of failure."""

from __future__ import annotations

from conformance.checks._model import Finding, group_findings
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
