"""The report's static HTML, rendered from results data: what a reader sees, whole."""

from __future__ import annotations

from html.parser import HTMLParser

from conformance.report._html import checks_section, other_data_section, report_body
from conformance.report._html_card import header_card
from conformance.report._html_evidence import cut, exchange_html, transcript_html, visible_events
from conformance.run._baseline import Baseline, Entry, Gate
from tests.report._data import check, finding, results


class Text(HTMLParser):
    """The text of an HTML fragment, tags dropped, as a reader would see it."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text(html: str) -> str:
    parser = Text()
    parser.feed(html)
    return "".join(parser.parts)


def exchange(events=None, body="", status=200, truncated=False):
    streamed = events is not None
    return {
        "id": "chat_stream" if streamed else "chat",
        "request": {
            "method": "POST",
            "url": "https://api.example.com/v1/chat/completions",
            "headers": {"authorization": "Bearer [redacted]"},
            "body": {"model": "m-1", "messages": [{"role": "user", "content": "hi"}]},
        },
        "response": {
            "status": status,
            "headers": {"content-type": "text/event-stream" if streamed else "application/json"},
            "body": body,
            "body_truncated": truncated,
            "streamed": streamed,
            "events": [
                {"index": i, "event": "", "id": "", "data": d} for i, d in enumerate(events or [])
            ],
        },
        "framing_problems": [],
        "error": None,
        "elapsed_s": 0.1,
    }


def test_long_text_is_cut_visibly():
    assert cut("abc", 5) == "abc"
    assert text(cut("a<b" * 4, 5)) == "a<ba<\n... [cut: 7 more characters]"


def test_a_long_transcript_keeps_head_tail_and_the_offending_events():
    shown = visible_events(1000, {500})
    assert shown[:100] == list(range(100))
    assert shown[100:107] == [None, 498, 499, 500, 501, 502, None]
    assert shown[107:] == list(range(950, 1000))
    assert visible_events(5, {2}) == [0, 1, 2, 3, 4]


def test_the_offending_event_is_highlighted_in_the_transcript():
    html = transcript_html(
        [{"index": i, "event": "", "id": "", "data": f'{{"n":{i}}}'} for i in range(3)], {1}
    )
    assert '<span class="cf-hit">[1] data: {&quot;n&quot;:1}</span>' in html
    assert text(html) == '[0] data: {"n":0}\n[1] data: {"n":1}\n[2] data: {"n":2}\n'


def test_an_exchange_shows_request_response_and_a_curl_line_without_the_key():
    html = exchange_html(exchange(body='{"ok": "<b>"}', truncated=True), set())
    assert text(html) == (
        "request"
        "POST https://api.example.com/v1/chat/completions\n"
        "authorization: Bearer [redacted]\n\n"
        '{\n  "model": "m-1",\n  "messages": [\n    {\n      "role": "user",\n'
        '      "content": "hi"\n    }\n  ]\n}'
        "response"
        "HTTP 200\ncontent-type: application/json"
        "body [the body was cut at the client's cap]"
        '{"ok": "<b>"}'
        "reproduce"
        "curl -sS -N -X POST https://api.example.com/v1/chat/completions -H "
        "\"Authorization: Bearer $CONFORMANCE_API_KEY\" -H 'Content-Type: application/json' "
        '--data-raw \'{"model": "m-1", "messages": [{"role": "user", "content": "hi"}]}\''
    )
    assert "<b>" not in html


def test_the_header_card_shows_what_other_parts_of_a_run_recorded():
    data = results(
        check("usage_arithmetic", "FAIL", findings=[finding()]),
        check("seed_accepted", "ERROR", area="sampling", reason="timeout"),
        notes=["stopped early: --max-requests 5 reached"],
        partial=True,
        phases={
            "checks": {"requests": 3, "tokens": {"total": 30}},
            "explore": {"requests": 9, "tokens": {"total": 90}},
        },
        explore={
            "seed": 7,
            "examples": 10,
            "phases": {"valid": {"planned": 10, "sent": 4}},
            "stopped_by": "--max-tokens 100 reached",
        },
        network={
            "tls_verify": False,
            "insecure_http": True,
            "interrupted": "SIGINT",
            "concurrency": 2,
            "retries": 3,
            "timeouts_s": {"connect": 1.0},
        },
        areas={"usage": {"checks": 1, "requests": 2, "tokens": 20}},
    )
    card = header_card(Gate().apply(data))
    lines = text(card.replace("</dd>", "</dd>\n").replace("</tr>", "</tr>\n")).splitlines()
    assert lines[:19] == [
        "Conformance: https://api.example.com/v1verdictnonconformant (1 FAIL, 1 ERROR); "
        "exit code 1",
        "endpointhttps://api.example.com/v1",
        "modelm-1",
        "profilestrict",
        "specAPI 1, sha256 " + "a" * 64,
        "toolconformance 0.1.0",
        "started2026-01-01T00:00:00+00:00",
        "duration1.2 s",
        "requests3",
        "tokens3 (1 prompt, 2 completion)",
        "FAILusage_arithmetic",
        "ERRORseed_accepted",
        "phaseschecks: 3 requests, 30 tokens; explore: 9 requests, 90 tokens",
        "explorationseed 7, 10 examples; valid 4 of 10 sent; stopped: --max-tokens 100 "
        "reached (details)",
        "TLScertificates not verified (insecure)",
        "HTTPplain http allowed",
        "interruptedSIGINT",
        "networkconcurrency 2; retries 3; timeouts connect 1.0 s",
        "partialthe run stopped early",
    ]
    assert lines[19:-1] == [
        "notestopped early: --max-requests 5 reached",
        "CI gatefails on FAIL",
        "areascorePASSWARNFAILSKIPERRORspent",
        "usage0% (0 of 1)001002 requests, 20 tokens",
        "samplinginconclusive (1 ERROR)00001",
    ]
    assert " ".join(lines[-1].split()).endswith("Show: 0 PASS 0 WARN 1 FAIL 0 SKIP 1 ERROR")


def test_with_a_baseline_each_finding_says_known_or_new():
    known_finding = finding("old", "$.a")
    new_finding = finding("new", "$.b")
    data = results(check("usage_arithmetic", "FAIL", findings=[known_finding, new_finding]))
    baseline = Baseline((Entry(check="usage_arithmetic", title="old"),), path="known.yaml")
    gated = Gate(baseline=baseline).apply(data)
    assert "CI gatefails on FAIL; baseline known.yaml: 1 known, 1 new, 0 stale" in text(
        header_card(gated)
    )
    section = checks_section(gated)
    rows = [text(r) for r in section.split('<tr class="cf-finding">')[1:]]
    assert rows[0].endswith("chatknown (baseline)")
    assert rows[1].endswith("chatnew")


def test_fields_without_a_view_are_shown_as_data_and_empty_ones_are_not():
    data = results(faults=[], network={}, something_new={"answer": 42})
    assert text(other_data_section(data)) == (
        'More from results.jsonsomething_new{\n  "answer": 42\n}'
    )
    assert other_data_section(results()) == ""


def test_network_faults_are_summed_up_on_the_card_and_listed_below():
    faults = [
        {
            "exchange": "chat",
            "kind": "rate-limited",
            "message": "got through on attempt 2",
            "attempts": 2,
            "recovered": True,
        },
        {
            "exchange": "chat_stream",
            "kind": "cut-stream",
            "message": "gave up after 4 attempts",
            "attempts": 4,
            "recovered": False,
        },
    ]
    data = Gate().apply(results(check("c"), faults=faults))
    assert (
        "faults1 rate-limited, 1 cut-stream; 1 not recovered (details)"
        in text(header_card(data).replace("</dd>", "</dd>\n")).splitlines()
    )
    section = checks_section(data)  # the checks are unaffected
    assert "cut-stream" not in section
    body = text(report_body(data).replace("</tr>", "</tr>\n"))
    assert "Network faults" in body
    assert "chat_streamcut-stream4nogave up after 4 attempts" in body.splitlines()
    assert "chatrate-limited2yesgot through on attempt 2" in body.splitlines()
