"""A run read by cause first (one line per root cause), then per check, from results data."""

from __future__ import annotations

from conformance.report._causes import finding_groups, finding_probes, root_causes
from conformance.report._text import outcome_lines


def exchange(probe, status, stream=False):
    body = {"model": "m", "stream": True} if stream else {"model": "m"}
    return {"id": probe, "request": {"body": body}, "response": {"status": status}}


def test_faults_on_every_stream_are_one_cause_naming_the_checks_left_inconclusive():
    data = {
        "exchanges": [exchange("chat", 200), exchange("s1", 502, True), exchange("s2", 502, True)],
        "faults": [
            {
                "exchange": e,
                "kind": "gateway-error-page",
                "recovered": False,
                "message": "502 Bad Gateway after 1 attempt(s)",
            }
            for e in ("s1", "s2")
        ],
        "checks": [
            {"id": "a", "verdict": "ERROR", "exchanges": ["s1"], "reason": "502"},
            {"id": "b", "verdict": "ERROR", "exchanges": ["chat", "s2"], "reason": "502"},
            {"id": "c", "verdict": "PASS", "exchanges": ["chat"]},
            {"id": "d", "verdict": "ERROR", "exchanges": ["chat"], "reason": "too deep"},
        ],
    }
    assert outcome_lines(data) == [
        "cause: every stream: true request (2 of 3) got 502 Bad Gateway (a gateway's HTML "
        "error page): 2 checks inconclusive (a, b)",
        "ERROR d: too deep",
    ]


def test_a_status_every_request_got_is_the_cause_of_the_failures():
    data = {
        "exchanges": [exchange("chat", 401), exchange("s", 401, True)],
        "checks": [
            {"id": "ok", "verdict": "FAIL", "exchanges": ["chat"], "findings": []},
            {"id": "st", "verdict": "FAIL", "exchanges": ["s"], "findings": []},
        ],
    }
    [cause] = root_causes(data)
    assert cause.line() == "every request (2) was answered 401: 2 checks FAIL (ok, st)"
    assert outcome_lines(data) == [f"cause: {cause.line()}"]


def test_a_finding_shown_by_many_probes_is_one_line_with_its_probes():
    findings = [
        {"kind": "k", "title": "total is off", "json_path": "$.usage", "exchange": probe,
         "seen": 2, "trials": 4}
        for probe in ("chat", "chat#2", "chat_n", "cap", "cap_2", "cap_3")
    ]  # fmt: skip
    [group] = finding_groups(findings)
    assert group.line() == (
        "total is off at $.usage (probes chat, chat_n, cap, cap_2 and 1 more, in 2 of 4 trials)"
    )
    data = {"checks": [{"id": "u", "verdict": "FAIL", "findings": findings}]}
    assert outcome_lines(data) == [f"FAIL u: {group.line()}"]


def test_a_finding_merged_across_probes_lists_them_and_one_without_falls_back_to_its_exchange():
    assert finding_probes({"probes": ["a", "b"], "exchange": "a"}) == ["a", "b"]
    assert finding_probes({"exchange": "chat#3"}) == ["chat"]
    assert finding_probes({}) == []


def test_the_eta_keeps_the_whole_runs_pace_when_a_later_batch_is_planned(monkeypatch):
    import io

    from conformance.report import _progress

    now = [100.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: now[0])
    progress = _progress.Progress("quiet", stream=io.StringIO())
    progress.requests_planned(10)
    now[0] = 110.0
    progress.requests_done = 5  # 5 answers in 10 s
    progress.requests_planned(5)  # a second batch (trials): the clock is not restarted
    assert progress._eta() == "20s"  # 10 left at 2 s each
    progress.requests_done = 15
    assert progress._eta() is None
    now[0] = 200.0  # idle for a while (the preflight's one request, then start-up)
    progress.requests_planned(100)
    now[0] = 201.0
    progress.requests_done = 25  # 10 of the new batch in 1 s: the idle time is not counted
    assert progress._eta() == "9s"


def test_a_comparison_says_a_runs_root_cause_once_not_in_every_cell():
    from conformance.report._compare import build_matrix
    from conformance.report._compare_render import render_html, render_markdown

    faults = [
        {"exchange": e, "kind": "gateway-error-page", "recovered": False,
         "message": "502 Bad Gateway after 1 attempt(s)"}
        for e in ("s1", "s2")
    ]  # fmt: skip
    exchanges = [exchange("chat", 200), exchange("s1", 502, True), exchange("s2", 502, True)]
    gateway = {
        "exchanges": exchanges,
        "faults": faults,
        "checks": [
            {"id": i, "area": "stream", "verdict": "ERROR", "exchanges": [e], "reason": "502 page"}
            for i, e in (("a", "s1"), ("b", "s2"))
        ],
    }
    clean = {"checks": [{"id": i, "area": "stream", "verdict": "PASS"} for i in ("a", "b")]}
    matrix = build_matrix([("gw/results.json", gateway), ("ok/results.json", clean)])
    line = (
        "every stream: true request (2 of 3) got 502 Bad Gateway (a gateway's HTML error "
        "page): 2 checks inconclusive (a, b)"
    )
    assert matrix.columns[0].causes == [line]
    assert [row.cells[0].note for row in matrix.rows] == ["", ""]
    markdown = render_markdown(matrix)
    assert markdown.count("502") == 1
    assert "- gw: every stream: true request (2 of 3) got 502 Bad Gateway" in markdown
    assert 'title="cause: every stream: true request (2 of 3) got 502' in render_html(matrix)


def test_an_exploration_failure_shows_its_smallest_example_and_the_replay_seed():
    data = {
        "checks": [
            {"id": "explore_no_server_errors", "verdict": "FAIL",
             "findings": [{"kind": "5xx", "title": "server error", "json_path": "$",
                           "exchange": "explore-valid-3"}]},
        ],
        "explore": {"seed": 7, "findings": [
            {"property": "explore_no_server_errors", "fields": ["n", "stream"], "shrunk": True,
             "example": {"n": 2, "stream": True}},
        ]},
    }  # fmt: skip
    assert outcome_lines(data) == [
        "FAIL explore_no_server_errors: server error at $ (probe explore-valid-3)",
        '  shrunk example (fields: n, stream): {"n": 2, "stream": true}; replay: --seed 7',
    ]
