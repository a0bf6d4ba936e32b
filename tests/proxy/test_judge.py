"""`conformance judge`: recorded traffic judged as the run judges the same bytes.

The regression corpus (``/work/shared/recorded``: real providers' answers) is judged twice:
by ``conformance judge`` on the file, and by the run's engine (``Runner``) with the same bytes
answering its plain or streamed probe. The single-exchange checks find the same problems.
"""

from __future__ import annotations

import base64
import functools
import json
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
from click.testing import CliRunner

from conformance.checks import registered_checks
from conformance.checks._probes import CHAT, CHAT_STREAM
from conformance.cli import main
from conformance.contract._spec import Contract
from conformance.engine._engine import Runner
from conformance.proxy._recorded import Unreadable, read
from conformance.proxy._tally import Tally
from conformance.wire._client import Endpoint
from tests.conftest import RECORDED

CONTRACT = Contract.load(None, profile="strict")
FILES = sorted(p for p in RECORDED.glob("*") if p.name.endswith((".json", ".chunks.txt")))


def _wire_bytes(path: Path) -> tuple[bytes, bool]:
    """The bytes an endpoint sent for this recording (a chunk file as its event stream)."""
    text = path.read_text(encoding="utf-8")
    if path.name.endswith(".chunks.txt"):
        events = "".join(f"data: {line.strip()}\n\n" for line in text.splitlines() if line.strip())
        return (events + "data: [DONE]\n\n").encode(), True
    return text.encode(), False


def _identities(findings) -> set[tuple[str, str, str]]:
    return {(f["check_id"], f["json_path"], f["kind"]) for f in findings}


@functools.cache
def _run_findings(path: Path) -> set[tuple[str, str, str]]:
    """What the run's engine finds with these bytes answering its probe."""
    body, streamed = _wire_bytes(path)
    kind = "text/event-stream" if streamed else "application/json"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": kind}, content=body)

    probe = CHAT_STREAM if streamed else CHAT
    runner = Runner(
        Endpoint(base_url="http://recorded.invalid/v1", api_key="sk-x", model="m"),
        CONTRACT,
        transport=httpx.MockTransport(answer),
    )
    runner.fetch([probe.id])
    out: set[tuple[str, str, str]] = set()
    for check in registered_checks():
        if check.any_exchange and probe.id in check.probes:
            result = runner.evaluate(check)
            out |= _identities(
                f.to_dict() for f in result.findings if f.exchange and f.exchange.id == probe.id
            )
    return out


def _judge_findings(path: Path) -> set[tuple[str, str, str]]:
    tally = Tally(CONTRACT, upstream="recorded", source="recording")
    for item in read(path):
        assert not isinstance(item, Unreadable), item
        tally.add(item)
    data = tally.results()
    return {i for c in data["checks"] for i in _identities(c["findings"])}


def _as_record(path: Path, tmp_path: Path) -> Path:
    """The recording as the proxy's --record --keep-bodies line, with the request the run's
    probe sends (the recording itself has none)."""
    body, streamed = _wire_bytes(path)
    probe = CHAT_STREAM if streamed else CHAT
    line = {
        "id": path.name,
        "bodies": True,
        "request": {
            "method": "POST",
            "url": "http://recorded.invalid/v1/chat/completions",
            "headers": {"content-type": "application/json"},
            "body": probe.body("m"),
        },
        "response": {
            "status": 200,
            "headers": {"content-type": "text/event-stream" if streamed else "application/json"},
            "body_base64": base64.b64encode(body).decode(),
        },
        "ended": True,
        "error": None,
    }
    out = tmp_path / "record.jsonl"
    out.write_text(json.dumps(line) + "\n")
    return out


needs_corpus = pytest.mark.skipif(not FILES, reason="the recorded corpus is not on this machine")


@needs_corpus
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_judge_finds_what_the_run_finds_in_the_same_exchange(path, tmp_path):
    assert _judge_findings(_as_record(path, tmp_path)) == _run_findings(path)


@needs_corpus
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_a_recording_without_its_request_misses_only_what_the_request_decides(path):
    """The run's probe asks for at most a few tokens; the provider's answer was to another
    request: only the token cap (a property of the request) is not judged from the file."""
    run = {i for i in _run_findings(path) if i[0] != "max_tokens_honoured"}
    assert _judge_findings(path) == run


STREAM = (
    'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{"role":"assistant","content":"secret words"},'
    '"finish_reason":null}]}\n\n'
    'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    '"choices":[{"index":0,"delta":{},"finish_reason":"eos"}]}\n\n'
)  # no [DONE], and a finish_reason outside the enum


def _har(tmp_path: Path) -> Path:
    entry = {
        "request": {
            "method": "POST",
            "url": "https://api.example.com/v1/chat/completions",
            "headers": [{"name": "Authorization", "value": "Bearer sk-har-secret-123456"}],
            "postData": {"text": json.dumps({"model": "m", "messages": [], "stream": True})},
        },
        "response": {
            "status": 200,
            "headers": [{"name": "Content-Type", "value": "text/event-stream"}],
            "content": {"mimeType": "text/event-stream", "text": STREAM},
        },
    }
    page = {"request": {"method": "GET", "url": "https://example.com/"}, "response": {}}
    broken = {"request": {"method": "POST", "url": "https://x/v1/chat/completions"}}
    # the list of stored completions: not a chat completion, not judged (nor unreadable)
    listing = {
        "request": {"method": "GET", "url": "https://api.example.com/v1/chat/completions?limit=10"},
        "response": {
            "status": 200,
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "content": {"mimeType": "application/json", "text": '{"object":"list","data":[]}'},
        },
    }
    path = tmp_path / "session.har"
    path.write_text(json.dumps({"log": {"entries": [entry, page, broken, listing]}}))
    return path


def test_judge_reads_har_and_transcripts_and_says_one_line_per_unreadable_entry(tmp_path):
    transcript = tmp_path / "stream.txt"
    transcript.write_text(STREAM)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a recording\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        ["judge", str(_har(tmp_path)), str(transcript), str(notes), str(tmp_path / "gone.har"),
         "--report-dir", str(out)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines() == [
        f"conformance: unreadable: {tmp_path / 'session.har'}: entry 2: "
        "the response body was not recorded",
        f"conformance: unreadable: {notes}: file: not a recording (a HAR file, the proxy's "
        "JSONL, an SSE transcript, one chunk's JSON per line, or a response body)",
        f"conformance: unreadable: {tmp_path / 'gone.har'}: file: not a regular file",
    ]
    data = json.loads((out / "results.json").read_text())
    assert data["observed"]["exchanges"] == 2
    assert data["observed"]["judged"] == 2
    failed = {c["id"] for c in data["checks"] if c["verdict"] == "FAIL"}
    assert {"stream_done_terminator", "chunk_schema"} <= failed
    written = "".join((out / name).read_text() for name in ("results.json", "report.html"))
    assert "sk-har-secret-123456" not in written
    assert "secret words" not in written  # a completion: not kept without --keep-bodies
    assert "Observed traffic" in (out / "report.html").read_text()
    assert "stream_done_terminator" in (out / "junit.xml").read_text()
    assert result.stdout == (
        "conformance: 2 of 2 exchanges judged: nonconformant "
        f"({_totals(data)}); report: {out / 'report.html'}\n"
    )


def _totals(data) -> str:
    return ", ".join(f"{n} {v}" for v, n in data["totals"].items() if n)


def test_judge_with_nothing_readable_is_inconclusive(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("{}\n")
    result = CliRunner().invoke(main, ["judge", str(empty), "--report-dir", str(tmp_path)])
    assert result.exit_code == 3
    assert result.stderr == (
        f"conformance: unreadable: {empty}: line 1: neither a recorded exchange nor a chunk\n"
    )


def _role_in_every_delta(tmp_path: Path) -> Path:
    def chunk(delta: dict[str, object], finish: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        body = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        return json.dumps({**body, "choices": [choice]}) + "\n"

    path = tmp_path / "role-every-delta.chunks.txt"
    path.write_text(
        chunk({"role": "assistant", "content": "Hel"})
        + chunk({"role": "assistant", "content": "lo"})
        + chunk({"role": "assistant"}, "stop")
    )
    return path


def test_judge_replays_the_traffic_through_the_clients_and_names_what_breaks_one(tmp_path):
    recording = _role_in_every_delta(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["judge", str(recording), "--report-dir", str(out)])
    assert result.exit_code == 1, result.output
    checks = {c["id"]: c for c in json.loads((out / "results.json").read_text())["checks"]}
    client = checks["client_reads_exchange"]
    assert client["verdict"] == "WARN"
    assert sorted(f["title"] for f in client["findings"]) == [
        "openai-python 3.63.0 (.stream()) misreads role: choices[0].role "
        "'assistantassistantassistant' (should be 'assistant')",
        "openai-python 3.63.0 (create(stream=True)) misreads role: choices[0].role "
        "'assistantassistantassistant' (should be 'assistant')",
    ]
    assert checks["stream_delta_identity_once"]["verdict"] == "FAIL"  # openai profile


def test_judge_without_clients_has_no_client_verdict(tmp_path):
    recording = _role_in_every_delta(tmp_path)
    out = tmp_path / "out"
    args = ["judge", str(recording), "--report-dir", str(out), "--no-clients"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    ids = {c["id"] for c in json.loads((out / "results.json").read_text())["checks"]}
    assert "client_reads_exchange" not in ids


def test_junit_of_observed_traffic_parses_whatever_the_upstream_wrote(tmp_path):
    # a finish_reason with terminal escapes and a NUL: XML 1.0 cannot carry them raw
    transcript = tmp_path / "stream.txt"
    transcript.write_text(STREAM.replace('"eos"', '"\\u001b[31meos\\u0000"'))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["judge", str(transcript), "--report-dir", str(out)])
    assert result.exit_code == 1, result.output
    root = ElementTree.parse(out / "junit.xml").getroot()
    failed = {c.get("name") for c in root.iter("testcase") if c.find("failure") is not None}
    assert "chunk_schema" in failed
    assert "\x1b" not in (out / "junit.xml").read_text()
